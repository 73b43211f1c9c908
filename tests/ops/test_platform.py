"""The Procfile run as Heroku or Railway runs it: `release`, then `web` with PORT and DATABASE_URL set.

The operator's CLI commands (`assets add`, `markets add`, `accounts create`,
`deposit`) list a market and fund an account through the running server, and an
order placed over signed REST round-trips: accepted, read back, on the book,
cancelled. SIGTERM then stops the process with status 0.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from exchange.api.auth import KeyPair
from tests.api.client import Client
from tests.support.processes import EXCHANGE, Process, environment, procfile, scratch_site


def cli(env: dict[str, str], *args: str) -> dict[str, object]:
    result = subprocess.run([EXCHANGE, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result
    reply: dict[str, object] = json.loads(result.stdout)
    return reply


def test_the_procfile_web_process_serves_and_an_order_round_trips(tmp_path: Path) -> None:
    processes = procfile()
    assert set(processes) == {"web", "engine", "standby", "release"}
    assert "$PORT" in processes["web"] and processes["web"].startswith("exchange serve")
    assert "--role" not in processes["web"], "web is the whole exchange unless EXCHANGE_ROLE=gateway is set"
    assert processes["engine"] == "exchange serve --role engine"
    assert processes["standby"] == "exchange serve --role engine --standby"
    admin, trader = KeyPair.generate(), KeyPair.generate()
    with scratch_site("exchange_ops") as (port, url, database_url):
        env = environment(
            PORT=str(port),
            DATABASE_URL=database_url.replace("postgresql://", "postgres://", 1),
            EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key,
        )
        release = subprocess.run(
            processes["release"], shell=True, env=env, capture_output=True, timeout=120, check=False
        )
        assert release.returncode == 0, release
        web = Process(processes["web"], env, tmp_path / "web.log")
        try:
            status = web.wait_http(f"{url}/api/v1/status").json()
            assert status["status"] == "Ok"
            assert httpx.get(f"{url}/health").json() == {"status": "ok"}
            assert httpx.get(f"{url}/ready").status_code == 200

            ops = environment(EXCHANGE_URL=url, EXCHANGE_API_SECRET=admin.secret)
            cli(ops, "assets", "add", "USDC", "--decimals", "6")
            cli(ops, "assets", "add", "SOL", "--decimals", "9")
            cli(
                ops,
                "markets",
                "add",
                "SOL",
                "USDC",
                "--tick-size",
                "0.01",
                "--step-size",
                "0.01",
                "--taker-fee-bps",
                "5",
            )
            account = cli(ops, "accounts", "create", "--public-key", trader.public_key, "--label", "trader")
            account_id = int(str(account["accountId"]))
            cli(ops, "deposit", "USDC", "1000", "--account-id", str(account_id), "--transfer-id", "t1")
            refused = subprocess.run(
                [EXCHANGE, "deposit", "DOGE", "1"], env=ops, capture_output=True, text=True, timeout=60, check=False
            )
            assert refused.returncode == 1
            assert refused.stderr == "error: 400 INVALID_ASSET: Invalid asset symbol DOGE\n", refused.stderr

            client = Client(url, trader, account_id)
            order = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "99.5", "quantity": "2"}
            placed = client.request("POST", "/api/v1/order", "orderExecute", order)
            assert placed.status_code == 200, placed.text
            order_id = placed.json()["id"]
            read = client.get("/api/v1/order", "orderQuery", {"symbol": "SOL_USDC", "orderId": order_id}).json()
            assert (read["status"], read["price"], read["quantity"]) == ("New", "99.50", "2.00")
            book = httpx.get(f"{url}/api/v1/depth", params={"symbol": "SOL_USDC"}).json()
            assert book["bids"] == [["99.50", "2.00"]]
            balances = client.get("/api/v1/capital", "balanceQuery").json()
            assert balances["USDC"]["locked"] == "199.000000"
            cancelled = client.request(
                "DELETE", "/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": order_id}
            )
            assert cancelled.json()["status"] == "Cancelled"
            metrics = httpx.get(f"{url}/metrics").text
            assert 'exchange_orders_accepted_total{symbol="SOL_USDC"} 1.0' in metrics
            assert 'route="/api/v1/order"' in metrics
        finally:
            assert web.terminate() == 0, web.output()
        log = web.output()
        assert '"route": "/api/v1/order"' in log and trader.secret not in log and "X-Signature" not in log
