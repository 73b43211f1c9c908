"""One engine, its standby and two gateways over Redis, as real processes on the local PostgreSQL.

Redis is a private `redis-server` on a free port (no persistence), so the test can
restart it. One scenario, in phases, each checking what the issue asks:

1. Parity: four traders send signed orders through both gateways; on each gateway a
   websocket client follows `depth.SOL_USDC` (rebuilding the book from a REST snapshot,
   resyncing on a gap in `U`/`u`, as ccxt does), `trade.SOL_USDC` and one trader's
   `account.orderUpdate`. Both gateways' books, trades and order updates equal REST.
2. A gateway is SIGKILLed while fifty orders with distinct client ids are in flight
   through it: each client id is stored at most once, every acknowledged one is stored.
3. Redis is killed under load: gateways answer 503 with Retry-After meanwhile; once it
   is back, orders are acknowledged again by themselves, and nothing acknowledged is lost.
4. The engine is SIGKILLed under load: the standby takes over, both gateways resume by
   themselves, nothing acknowledged is lost, and the engine's digest is a fresh load's.
   The takeover is a new run of the event stream: the gateways resync their feeds from a
   snapshot, and a websocket client connected since phase 1 holds exactly REST's book.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import websockets

from exchange.api.auth import KeyPair
from tests.ops.test_single_writer import engine_state, fresh_digest
from tests.support.databases import plain, scratch
from tests.support.processes import EXCHANGE, Process, free_port
from tests.support.redis import RedisServer
from tests.support.traders import Ack, audit, operated, setup, signed, trade

SYMBOL = "SOL_USDC"
Book = dict[str, dict[Decimal, Decimal]]


@contextmanager
def cluster(tmp_path: Path, env: dict[str, str]) -> Iterator[Callable[[str, list[str]], tuple[Process, str]]]:
    """Start `exchange serve` processes with `env`; every one is killed on exit."""
    started: list[Process] = []

    def start(name: str, args: list[str]) -> tuple[Process, str]:
        port = free_port()
        process = Process([EXCHANGE, "serve", "--port", str(port), *args], env, tmp_path / f"{name}.log")
        started.append(process)
        return process, f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for process in started:
            process.close()


Starter = Callable[[str, list[str]], tuple[Process, str]]


@contextmanager
def over_redis(
    tmp_path: Path, database: str, admin: KeyPair, env: dict[str, str] | None = None
) -> Iterator[tuple[RedisServer, str, Starter]]:
    """A private `redis-server`, a scratch database and a `cluster` on both run by `admin`; all gone on exit."""
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with scratch(database) as scratch_url:
            settings = {**operated(plain(scratch_url), admin), "REDIS_URL": redis.url, **(env or {})}
            with cluster(tmp_path, settings) as start:
                yield redis, plain(scratch_url), start
    finally:
        redis.kill()


class Watcher:
    """A websocket client of one gateway: the depth it rebuilt, the trades and one trader's order updates."""

    def __init__(self, url: str, trader: KeyPair) -> None:
        self.url, self.trader = url, trader
        self.book: Book = {"bids": {}, "asks": {}}
        self.last = -1
        self.resyncs = 0
        self.trades: list[int] = []
        self.orders: list[tuple[str, str]] = []
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/"
        async with websockets.connect(ws_url) as ws, httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            public = {"method": "SUBSCRIBE", "params": [f"depth.{SYMBOL}", f"trade.{SYMBOL}"]}
            await ws.send(orjson.dumps(public).decode())
            headers = self.trader.headers("subscribe")
            sign = [headers["X-API-Key"], headers["X-Signature"], headers["X-Timestamp"], headers["X-Window"]]
            private = {"method": "SUBSCRIBE", "params": ["account.orderUpdate"], "signature": sign}
            await ws.send(orjson.dumps(private).decode())
            await asyncio.sleep(0.5)
            await self._snapshot(http)
            self.subscribed.set()
            async for raw in ws:
                frame = orjson.loads(raw)
                stream, data = frame.get("stream"), frame.get("data")
                assert "error" not in frame, frame
                if stream == f"depth.{SYMBOL}":
                    await self._depth(http, data)
                elif stream == f"trade.{SYMBOL}":
                    self.trades.append(data["t"])
                elif stream == "account.orderUpdate":
                    self.orders.append((data["i"], data["e"]))

    async def _snapshot(self, http: httpx.AsyncClient) -> None:
        reply = await http.get("/api/v1/depth", params={"symbol": SYMBOL, "limit": 1000})
        while reply.status_code == 503:  # no engine answers right now: come back as Retry-After says
            await asyncio.sleep(int(reply.headers["Retry-After"]))
            reply = await http.get("/api/v1/depth", params={"symbol": SYMBOL, "limit": 1000})
        assert reply.status_code == 200, reply.text
        self.book, self.last = rest_book(reply.json()), int(reply.json()["lastUpdateId"])

    async def _depth(self, http: httpx.AsyncClient, data: dict[str, Any]) -> None:
        if data["u"] <= self.last:
            return
        if data["U"] != self.last + 1:  # a gap: resync from a snapshot, as ccxt does
            self.resyncs += 1
            await self._snapshot(http)
            if data["u"] <= self.last:
                return
        for side, levels in (("bids", data["b"]), ("asks", data["a"])):
            for price, quantity in levels:
                if Decimal(quantity):
                    self.book[side][Decimal(price)] = Decimal(quantity)
                else:
                    self.book[side].pop(Decimal(price), None)
        self.last = data["u"]


def rest_book(depth: dict[str, Any]) -> Book:
    return {side: {Decimal(p): Decimal(q) for p, q in depth[side]} for side in ("bids", "asks")}


async def rest_depth(url: str) -> Book:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(f"{url}/api/v1/depth", params={"symbol": SYMBOL, "limit": 1000})
        assert reply.status_code == 200, reply.text
        return rest_book(reply.json())


async def rest_trade_ids(url: str) -> list[int]:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(f"{url}/api/v1/trades", params={"symbol": SYMBOL, "limit": 1000})
        assert reply.status_code == 200, reply.text
        return sorted(int(t["id"]) for t in reply.json())


async def run_load(
    targets: Callable[[int], Callable[[], str]], traders: list[KeyPair], seconds: float
) -> list[list[Ack]]:
    """Every trader places orders at its target for `seconds`; its acknowledgements, by trader."""
    acks: list[list[Ack]] = [[] for _ in traders]
    stop_at = time.monotonic() + seconds
    results = await asyncio.gather(
        *(trade(targets(n), t, n, acks[n], [], stop_at) for n, t in enumerate(traders)), return_exceptions=True
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return acks


async def until(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Wait until `check()`; return how long it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"{what} within {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def stored_client_ids(database_url: str) -> list[int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT client_id FROM orders WHERE client_id >= 1000000")
        return [row["client_id"] for row in rows]
    finally:
        await connection.close()


def test_an_engine_a_standby_and_two_gateways_over_redis(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    two_second_timeout = {"EXCHANGE_ENGINE_TIMEOUT": "2"}
    with over_redis(tmp_path, "exchange_roles", admin, two_second_timeout) as (redis, database_url, start):
        engine, engine_url = start("engine", ["--role", "engine"])
        engine.wait_http(f"{engine_url}/ready")
        standby, standby_url = start("standby", ["--role", "engine", "--standby"])
        g1, g1_url = start("gateway-1", ["--role", "gateway"])
        g2, g2_url = start("gateway-2", ["--role", "gateway"])
        for process, url in ((standby, standby_url), (g1, g1_url), (g2, g2_url)):
            process.wait_http(f"{url}/health")
        g1.wait_http(f"{g1_url}/ready")
        g2.wait_http(f"{g2_url}/ready")
        asyncio.run(scenario(redis, database_url, admin, engine, (g1_url, g2_url), start))
        assert "the event stream has a gap" in g1.output(), "gateway 1 resynced after the takeover"


async def scenario(
    redis: RedisServer,
    database_url: str,
    admin: KeyPair,
    engine: Process,
    gateways: tuple[str, str],
    start: Callable[[str, list[str]], tuple[Process, str]],
) -> None:
    g1_url, g2_url = gateways
    traders = await setup(g1_url, admin, 4)
    watchers = [Watcher(url, traders[0]) for url in gateways]
    following = [asyncio.create_task(w.run()) for w in watchers]
    await asyncio.wait_for(asyncio.gather(*(w.subscribed.wait() for w in watchers)), 20)

    # 1. parity: orders through both gateways; each gateway's streams equal REST
    by_trader = await run_load(lambda n: lambda: gateways[n % 2], traders, 4)
    acks = [ack for acks_of_one in by_trader for ack in acks_of_one]
    assert len({a.server for a in acks}) == 2 and len(acks) > 40, len(acks)
    await asyncio.sleep(1)
    for task in following:
        assert not task.done(), task.result()
    depth = await rest_depth(g1_url)
    assert depth == await rest_depth(g2_url) and depth["bids"] and depth["asks"]
    trades = await rest_trade_ids(g1_url)
    assert trades and trades == await rest_trade_ids(g2_url)
    for watcher in watchers:
        assert watcher.book == depth
        assert sorted(watcher.trades) == trades
        assert watcher.orders == watchers[0].orders
    assert {order_id for order_id, _ in watchers[0].orders} >= {str(a.order_id) for a in by_trader[0]}
    print(f"\nparity: {len(acks)} orders through two gateways, {len(trades)} trades, books and streams equal")
    following[1].cancel()

    # 2. a gateway killed mid-request: each command ran once or not at all
    g2 = start("gateway-2b", ["--role", "gateway"])
    await asyncio.to_thread(g2[0].wait_http, f"{g2[1]}/ready")
    orders = [
        {"symbol": SYMBOL, "side": "Bid", "orderType": "Limit", "price": "90", "quantity": "0.1", "clientId": str(c)}
        for c in range(1_000_000, 1_000_050)
    ]
    async with httpx.AsyncClient(base_url=g2[1], timeout=10, limits=httpx.Limits(max_connections=None)) as http:
        in_flight = [
            asyncio.create_task(signed(http, traders[1], "POST", "/api/v1/order", "orderExecute", order))
            for order in orders
        ]
        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)  # the rest are in flight
        g2[0].signal(signal.SIGKILL)
        replies = await asyncio.gather(*in_flight, return_exceptions=True)
    acknowledged = {
        int(r.json()["clientId"]) for r in replies if isinstance(r, httpx.Response) and r.status_code == 200
    }
    await asyncio.sleep(3)  # anything still in the inbox runs (or is dropped as stale) by now
    stored = await stored_client_ids(database_url)
    assert len(stored) == len(set(stored)), "a command ran twice"
    assert acknowledged and acknowledged <= set(stored)
    print(f"gateway killed: {len(acknowledged)} acknowledged, {len(stored)} of {len(orders)} stored, none twice")
    g2c, g2_url = start("gateway-2c", ["--role", "gateway"])
    gateways = (g1_url, g2_url)

    # 3. Redis restarted under load: 503 with Retry-After meanwhile, then everything resumes
    refusals: list[float] = []
    acks_during: list[Ack] = []
    stop_at = time.monotonic() + 12
    load = [
        asyncio.create_task(trade(lambda: g1_url, t, n, acks_during, refusals, stop_at)) for n, t in enumerate(traders)
    ]
    await asyncio.sleep(1)
    redis.kill()
    killed = time.monotonic()
    await until(lambda: bool(refusals) and refusals[-1] > killed, 10, "a 503 while Redis is down")
    await asyncio.sleep(1.5)
    redis.start()
    restarted = time.monotonic()
    back = await until(lambda: bool(acks_during) and acks_during[-1].at > restarted, 15, "orders resume")
    results = await asyncio.gather(*load, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    await audit(database_url, {a.order_id for a in [*acks, *acks_during]})
    print(f"redis restart: {len(refusals)} answered 503 with Retry-After; orders resumed {back * 1000:.0f} ms after")

    # 4. the engine SIGKILLed under load: the standby takes over, both gateways resume
    await asyncio.to_thread(g2c.wait_http, f"{g2_url}/ready")
    acks_after: list[Ack] = []
    stop_at = time.monotonic() + 14
    load = [
        asyncio.create_task(trade(partial(gateways.__getitem__, n % 2), t, n, acks_after, [], stop_at))
        for n, t in enumerate(traders)
    ]
    await asyncio.sleep(1.5)
    engine.signal(signal.SIGKILL)
    killed = time.monotonic()
    took_over = await until(
        lambda: {a.server for a in acks_after if a.at > killed + 0.5} == set(gateways), 12, "both gateways resume"
    )
    results = await asyncio.gather(*load, return_exceptions=True)
    assert not [r for r in results if isinstance(r, BaseException)], results
    await audit(database_url, {a.order_id for a in [*acks, *acks_during, *acks_after]})
    state = await engine_state(g1_url, admin)
    assert state["role"] == "gateway" and state["digest"] == await fresh_digest(database_url)
    await asyncio.sleep(1)
    assert not following[0].done(), following[0].result()
    assert watchers[0].book == await rest_depth(g1_url) == await rest_depth(g2_url)
    print(f"engine killed: both gateways acknowledge orders again {took_over * 1000:.0f} ms later")
    following[0].cancel()
    await asyncio.gather(*following, return_exceptions=True)
