"""SIGTERM under load loses nothing acknowledged.

Sixteen signed clients place crossing orders as fast as the server answers; midway the
server gets SIGTERM, as a platform sends on a redeploy. It must exit 0, and every
order it acknowledged (HTTP 200 with an id) must be in the database, with the per
asset sum of balances still equal to what was deposited (nothing lost, nothing made).
Requests after the signal may fail (refused connection, 503); none may be a lie.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx

from exchange.api.auth import KeyPair
from tests.support.databases import plain, scratch
from tests.support.processes import EXCHANGE, Process, environment, free_port

TRADERS = 16


async def signed(
    http: httpx.AsyncClient, key: KeyPair, method: str, path: str, instruction: str, params: dict[str, str]
) -> httpx.Response:
    return await http.request(method, path, json=params, headers=key.headers(instruction, [params]))


async def setup(url: str, admin: KeyPair) -> list[KeyPair]:
    traders = [KeyPair.generate() for _ in range(TRADERS)]
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for params in ({"symbol": "USDC", "decimals": "6"}, {"symbol": "SOL", "decimals": "9"}):
            assert (await signed(http, admin, "POST", "/admin/v1/assets", "assetCreate", params)).status_code == 200
        market = {
            "baseSymbol": "SOL",
            "quoteSymbol": "USDC",
            "tickSize": "0.01",
            "stepSize": "0.01",
            "minQuantity": "0.01",
        }
        assert (await signed(http, admin, "POST", "/admin/v1/markets", "marketCreate", market)).status_code == 200
        for trader in traders:
            reply = await signed(
                http, admin, "POST", "/exchange/v1/accounts", "accountCreate", {"publicKey": trader.public_key}
            )
            account = str(reply.json()["accountId"])
            for symbol, quantity in (("USDC", "1000000"), ("SOL", "10000")):
                params = {"symbol": symbol, "quantity": quantity, "accountId": account}
                assert (
                    await signed(http, admin, "POST", "/exchange/v1/capital/deposit", "deposit", params)
                ).status_code == 200
    return traders


async def trade(url: str, trader: KeyPair, n: int, acknowledged: list[int], stop_at: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for i in itertools.count():
            if time.monotonic() > stop_at:
                return
            side = "Bid" if (i + n) % 2 else "Ask"
            price = str(Decimal(100) + Decimal((i * 7 + n) % 11 - 5) / 100)
            order = {"symbol": "SOL_USDC", "side": side, "orderType": "Limit", "price": price, "quantity": "0.5"}
            try:
                reply = await signed(http, trader, "POST", "/api/v1/order", "orderExecute", order)
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            if reply.status_code == 200:
                acknowledged.append(int(reply.json()["id"]))


def test_sigterm_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with scratch("exchange_ops") as scratch_url:
        database_url = plain(scratch_url)
        env = environment(
            DATABASE_URL=database_url,
            EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key,
            EXCHANGE_IP_RATE_LIMIT="0",
            EXCHANGE_KEY_RATE_LIMIT="0",
        )
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/ready")
            traders = asyncio.run(setup(url, admin))
            acknowledged: list[int] = []

            async def load() -> None:
                stop_at = time.monotonic() + 4
                tasks = [asyncio.create_task(trade(url, t, n, acknowledged, stop_at)) for n, t in enumerate(traders)]
                await asyncio.sleep(1.5)
                before = len(acknowledged)
                server.signal()
                await asyncio.gather(*tasks)
                assert before > 50, before

            asyncio.run(load())
            status = server.popen.wait(60)
        finally:
            server.close()
        assert status == 0, server.output()

        async def audit() -> None:
            connection = await asyncpg.connect(database_url)
            try:
                stored = {row["id"] for row in await connection.fetch("SELECT id FROM orders")}
                totals = {
                    row["asset"]: row["total"]
                    for row in await connection.fetch(
                        "SELECT asset, sum(available + locked) AS total FROM balances GROUP BY asset"
                    )
                }
                deposited = {
                    row["asset"]: row["total"]
                    for row in await connection.fetch(
                        "SELECT asset, sum(amount) AS total FROM transfers GROUP BY asset"
                    )
                }
            finally:
                await connection.close()
            missing = set(acknowledged) - stored
            assert not missing, f"{len(missing)} acknowledged orders are not in the database"
            assert totals == deposited

        asyncio.run(audit())
