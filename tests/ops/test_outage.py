"""Database outages seen from outside: every route answers 503 in bounded time, and the exchange heals itself.

`exchange serve` runs on a PostgreSQL server of the test's own (`PrivatePostgres`),
which the test takes away twice: (a) stopped (connections closed, new ones refused),
and (b) frozen with SIGSTOP (sockets open, nothing answers: the case that used to
hang). During each, an order is placed first (the engine's commit fails and the
engine halts), then every kind of route is called at once: public market data read
from the database, signed reads served by the engine and by the database, the first
request of a key not yet cached (its lookup reads the database), engine commands, and
a websocket private subscription by that key. Each must answer 503
SERVICE_UNAVAILABLE with Retry-After (the subscription: a 4013 error frame) within
its bound, and the figures are printed. Once the database is back, orders succeed
again without anyone touching the server, every order acknowledged before is still
open, and at the end the database holds every acknowledged order and, per asset,
exactly what was deposited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from websockets.asyncio.client import connect

from exchange.api.auth import KeyPair
from exchange.config import DATABASE_TIMEOUT
from tests.support.postgres import PrivatePostgres
from tests.support.processes import EXCHANGE, Process, environment, free_port

READ_BOUND = DATABASE_TIMEOUT + 0.5
"""A route that waits on the database answers within its timeout, plus the request's own work (an order: the
engine's commit timeout, after which the writer drops its connection at once)."""

Reply = tuple[float, int, str, str | None]
"""Seconds taken, status, error code and Retry-After of one answer."""


class Trader:
    """Signed HTTP for one key."""

    def __init__(self, http: httpx.AsyncClient, keys: KeyPair) -> None:
        self.http = http
        self.keys = keys

    async def send(self, method: str, path: str, instruction: str, params: dict[str, str] | None = None) -> Any:
        """One signed request: params in the query of a GET, else the JSON body."""
        params = params or {}
        headers = self.keys.headers(instruction, [params])
        if method == "GET":
            return await self.http.get(path, params=params, headers=headers)
        headers["Content-Type"] = "application/json"
        return await self.http.request(method, path, content=orjson.dumps(params), headers=headers)


async def timed(call: Awaitable[httpx.Response]) -> Reply:
    """How long `call` took and what it answered."""
    start = time.monotonic()
    reply = await call
    code = reply.json().get("code") if reply.headers.get("content-type") == "application/json" else None
    return time.monotonic() - start, reply.status_code, str(code), reply.headers.get("retry-after")


async def subscribe(url: str, keys: KeyPair) -> tuple[float, int]:
    """Seconds until a private subscription signed by `keys` is answered, and the answer's error code."""
    headers = keys.headers("subscribe")
    frame = {
        "method": "SUBSCRIBE",
        "params": ["account.orderUpdate"],
        "id": 1,
        "signature": [headers["X-API-Key"], headers["X-Signature"], headers["X-Timestamp"], headers["X-Window"]],
    }
    async with connect(url.replace("http://", "ws://")) as socket:
        start = time.monotonic()
        await socket.send(orjson.dumps(frame).decode())
        answer = orjson.loads(await asyncio.wait_for(socket.recv(), 30))
        return time.monotonic() - start, int(answer["error"]["code"])


def bid(price: str) -> dict[str, str]:
    return {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": price, "quantity": "1"}


async def setup(http: httpx.AsyncClient, admin: Trader) -> tuple[Trader, Trader]:
    """SOL/USDC listed; a funded trader (its key cached by a first request) and a late key never used yet."""
    for asset in ({"symbol": "USDC", "decimals": "6"}, {"symbol": "SOL", "decimals": "9"}):
        assert (await admin.send("POST", "/admin/v1/assets", "assetCreate", asset)).status_code == 200
    market = {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"}
    assert (await admin.send("POST", "/admin/v1/markets", "marketCreate", market)).status_code == 200
    trader, late = Trader(http, KeyPair.generate()), Trader(http, KeyPair.generate())
    for who in (trader, late):
        reply = await admin.send("POST", "/exchange/v1/accounts", "accountCreate", {"publicKey": who.keys.public_key})
        deposit = {"symbol": "USDC", "quantity": "100000", "accountId": str(reply.json()["accountId"])}
        assert (await admin.send("POST", "/exchange/v1/capital/deposit", "deposit", deposit)).status_code == 200
    assert (await trader.send("GET", "/api/v1/capital", "balanceQuery")).status_code == 200
    return trader, late


TO_CHAIN = {"address": "So1Dest", "blockchain": "Solana"}


async def outage(url: str, http: httpx.AsyncClient, trader: Trader, late: Trader) -> dict[str, Reply]:
    """Place an order, then call every kind of route at once; return each answer."""
    replies = {"POST /api/v1/order": await timed(trader.send("POST", "/api/v1/order", "orderExecute", bid("1.11")))}
    now = int(time.time())
    calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "GET /api/v1/ticker": lambda: http.get("/api/v1/ticker", params={"symbol": "SOL_USDC"}),
        "GET /api/v1/tickers": lambda: http.get("/api/v1/tickers"),
        "GET /api/v1/klines": lambda: http.get(
            "/api/v1/klines", params={"symbol": "SOL_USDC", "interval": "1m", "startTime": str(now - 3600)}
        ),
        "GET /api/v1/trades": lambda: http.get("/api/v1/trades", params={"symbol": "SOL_USDC"}),
        "GET /api/v1/depth": lambda: http.get("/api/v1/depth", params={"symbol": "SOL_USDC"}),
        "GET /api/v1/capital": lambda: trader.send("GET", "/api/v1/capital", "balanceQuery"),
        "GET /api/v1/orders": lambda: trader.send("GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"}),
        "GET /wapi/v1/history/orders": lambda: trader.send("GET", "/wapi/v1/history/orders", "orderHistoryQueryAll"),
        "GET /wapi/v1/history/fills": lambda: trader.send("GET", "/wapi/v1/history/fills", "fillHistoryQueryAll"),
        "GET /wapi/v1/capital/deposits": lambda: trader.send("GET", "/wapi/v1/capital/deposits", "depositQueryAll"),
        "GET /api/v1/capital (key not cached)": lambda: late.send("GET", "/api/v1/capital", "balanceQuery"),
        "DELETE /api/v1/orders": lambda: trader.send(
            "DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"}
        ),
        "POST /exchange/v1/capital/withdraw": lambda: trader.send(
            "POST", "/exchange/v1/capital/withdraw", "withdraw", {"symbol": "USDC", "quantity": "1"}
        ),
        "POST /wapi/v1/capital/withdrawals": lambda: trader.send(
            "POST", "/wapi/v1/capital/withdrawals", "withdraw", {**TO_CHAIN, "symbol": "USDC", "quantity": "1"}
        ),
        "GET /wapi/v1/capital/deposit/address": lambda: trader.send(
            "GET", "/wapi/v1/capital/deposit/address", "depositAddressQuery", {"blockchain": "Solana"}
        ),
    }
    answers = await asyncio.gather(*(timed(call()) for call in calls.values()))
    replies.update(zip(calls, answers, strict=True))
    return replies


async def resumed(trader: Trader, price: str, timeout: float = 60) -> float:
    """Seconds until an order is acknowledged again (the exchange heals without help)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        reply = await trader.send("POST", "/api/v1/order", "orderExecute", bid(price))
        if reply.status_code == 200:
            return time.monotonic() - start
        assert reply.status_code == 503, reply.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"no order was acknowledged within {timeout} s of the database coming back")


async def open_order_ids(trader: Trader) -> set[str]:
    reply = await trader.send("GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"})
    assert reply.status_code == 200, reply.text
    return {order["id"] for order in reply.json()}


def report(name: str, replies: dict[str, Reply]) -> None:
    print(f"\ndatabase {name}: status, code, Retry-After, seconds")
    for route, (seconds, status, code, retry) in replies.items():
        print(f"  {route:40} {status} {code:20} {retry}  {seconds:.2f}")


def test_every_route_answers_503_in_bounded_time_while_the_database_is_stopped_or_frozen(tmp_path: Path) -> None:
    pg = PrivatePostgres()
    admin = KeyPair.generate()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(
        DATABASE_URL=pg.url,
        EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key,
        EXCHANGE_IP_RATE_LIMIT="0",
        EXCHANGE_KEY_RATE_LIMIT="0",
    )
    server: Process | None = None
    acknowledged: list[str] = []

    async def run() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            trader, late = await setup(http, Trader(http, admin))
            for phase, (take_away, bring_back) in {
                "stopped": (pg.stop, pg.start),
                "frozen (SIGSTOP)": (pg.freeze, pg.thaw),
            }.items():
                for price in ("2.00", "2.01", "2.02"):
                    reply = await trader.send("POST", "/api/v1/order", "orderExecute", bid(price))
                    assert reply.status_code == 200, reply.text
                    acknowledged.append(reply.json()["id"])
                before = await open_order_ids(trader)
                take_away()
                replies = await outage(url, http, trader, late)
                report(phase, replies)
                subscription = await subscribe(url, late.keys)
                print(f"  {'websocket private subscribe':40} {subscription[1]}{'':24} {subscription[0]:.2f}")
                bring_back()
                took = await resumed(trader, "3.00")
                print(f"  resumed by itself: first order acknowledged {took:.2f} s after the database came back")
                for route, (seconds, status, code, retry) in replies.items():
                    assert (status, code) == (503, "SERVICE_UNAVAILABLE"), (phase, route, status, code)
                    assert retry is not None and int(retry) >= 1, (phase, route)
                    assert seconds < READ_BOUND, (phase, route, seconds)
                assert subscription[1] == 4013 and subscription[0] < READ_BOUND, (phase, subscription)
                assert before <= await open_order_ids(trader), "an acknowledged order was lost"

    try:
        pg.start()
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        server.wait_http(f"{url}/ready")
        asyncio.run(run())
        assert server.terminate() == 0, server.output()
        asyncio.run(audit(pg.url.replace("+asyncpg", ""), acknowledged))
    finally:
        if server is not None:
            server.close()
        pg.close()


async def audit(database_url: str, acknowledged: list[str]) -> None:
    """Every acknowledged order is stored, and per asset the balances hold exactly what was deposited."""
    connection = await asyncpg.connect(database_url)
    try:
        stored = {str(row["id"]) for row in await connection.fetch("SELECT id FROM orders")}
        balances = await connection.fetch("SELECT asset, sum(available + locked) AS t FROM balances GROUP BY asset")
        deposits = await connection.fetch("SELECT asset, sum(amount) AS t FROM transfers GROUP BY asset")
    finally:
        await connection.close()
    assert set(acknowledged) <= stored
    assert {r["asset"]: r["t"] for r in balances} == {r["asset"]: r["t"] for r in deposits}
