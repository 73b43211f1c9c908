"""Signed traders against a running server, and the audit of what the database holds afterwards.

`operated` is the environment of a server the tests run as its operator; `setup` lists
SOL_USDC with the operator's key and opens funded accounts; `trade` places crossing
limit orders as fast as the server answers and records each acknowledged order id
with the time and the server that acknowledged it; `audit` checks that every
acknowledged order is stored and that, per asset, the sum of all balances equals what
was deposited (nothing lost, nothing made).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
import httpx

from exchange.api.auth import KeyPair
from tests.support.processes import environment


def operated(database_url: str, admin: KeyPair) -> dict[str, str]:
    """The environment of a server on `database_url` run by `admin`'s key, without rate limits."""
    return environment(
        DATABASE_URL=database_url,
        EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key,
        EXCHANGE_IP_RATE_LIMIT="0",
        EXCHANGE_KEY_RATE_LIMIT="0",
    )


async def signed(
    http: httpx.AsyncClient, key: KeyPair, method: str, path: str, instruction: str, params: dict[str, str]
) -> httpx.Response:
    """Send one request signed by `key`."""
    return await http.request(method, path, json=params, headers=key.headers(instruction, [params]))


async def setup(url: str, admin: KeyPair, traders: int) -> list[KeyPair]:
    """List USDC, SOL and SOL_USDC; open `traders` accounts with 1,000,000 USDC and 10,000 SOL each."""
    keys = [KeyPair.generate() for _ in range(traders)]
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
        for key in keys:
            reply = await signed(
                http, admin, "POST", "/exchange/v1/accounts", "accountCreate", {"publicKey": key.public_key}
            )
            account = str(reply.json()["accountId"])
            for symbol, quantity in (("USDC", "1000000"), ("SOL", "10000")):
                params = {"symbol": symbol, "quantity": quantity, "accountId": account}
                assert (
                    await signed(http, admin, "POST", "/exchange/v1/capital/deposit", "deposit", params)
                ).status_code == 200
    return keys


@dataclass(frozen=True, slots=True)
class Ack:
    """An order a server acknowledged: its id, when (monotonic seconds), and which server."""

    order_id: int
    at: float
    server: str


async def trade(
    target: Callable[[], str], trader: KeyPair, n: int, acks: list[Ack], refusals: list[float], stop_at: float
) -> None:
    """Place orders at `target()` (read before each request) until `stop_at`; record acks and 503s."""
    async with httpx.AsyncClient(timeout=10) as http:
        for i in itertools.count():
            if time.monotonic() > stop_at:
                return
            side = "Bid" if (i + n) % 2 else "Ask"
            price = str(Decimal(100) + Decimal((i * 7 + n) % 11 - 5) / 100)
            order = {"symbol": "SOL_USDC", "side": side, "orderType": "Limit", "price": price, "quantity": "0.5"}
            server = target()
            try:
                reply = await signed(http, trader, "POST", f"{server}/api/v1/order", "orderExecute", order)
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            if reply.status_code == 200:
                acks.append(Ack(int(reply.json()["id"]), time.monotonic(), server))
            elif reply.status_code == 503:
                assert reply.headers.get("Retry-After"), "a 503 says when to come back"
                refusals.append(time.monotonic())
                await asyncio.sleep(0.02)


async def audit(database_url: str, acknowledged: set[int]) -> None:
    """Every acknowledged order is stored; per asset, balances add up to the deposits."""
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
            for row in await connection.fetch("SELECT asset, sum(amount) AS total FROM transfers GROUP BY asset")
        }
    finally:
        await connection.close()
    missing = acknowledged - stored
    assert not missing, f"{len(missing)} acknowledged orders are not in the database"
    assert totals == deposited
