"""`exchange bots --url ...`: the same market maker and taker as remote clients over signed REST.

The server runs demo listings with open sign-up and the faucet but without its own
bots; the remote bots sign up two accounts, fund them from the faucet, keep exactly
their ladder on the book and trade. SIGTERM stops them with status 0.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.processes import EXCHANGE, Process, environment, scratch_site


def test_remote_bots_keep_their_ladder_and_trade_over_signed_rest(tmp_path: Path) -> None:
    with scratch_site("exchange_ops") as (port, url, database_url):
        env = environment(
            DATABASE_URL=database_url, EXCHANGE_DEMO="true", EXCHANGE_OPEN_SIGNUP="true", EXCHANGE_BOTS="false"
        )
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        bots = None
        try:
            server.wait_http(f"{url}/ready")
            args = ["bots", "--url", url, "--market", "SOL_USDC", "--levels", "3", "--interval", "0.5"]
            args += ["--taker-interval", "0.3", "--seed", "2"]
            bots = Process([EXCHANGE, *args], environment(), tmp_path / "bots.log")
            deadline = time.monotonic() + 30
            depth: dict[str, list[list[str]]] = {"bids": [], "asks": []}
            trades: list[object] = []
            while time.monotonic() < deadline:
                depth = httpx.get(f"{url}/api/v1/depth", params={"symbol": "SOL_USDC"}).json()
                trades = httpx.get(f"{url}/api/v1/trades", params={"symbol": "SOL_USDC"}).json()
                if len(depth["bids"]) == len(depth["asks"]) == 3 and trades:
                    break
                assert bots.popen.poll() is None, bots.output()
                time.sleep(0.3)
            assert len(depth["bids"]) == len(depth["asks"]) == 3, (depth, bots.output())
            assert trades, bots.output()
            assert not httpx.get(f"{url}/api/v1/depth", params={"symbol": "BTC_USDC"}).json()["bids"]
            assert bots.terminate() == 0, bots.output()
        finally:
            if bots is not None:
                bots.close()
            assert server.terminate() == 0, server.output()
