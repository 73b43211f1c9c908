"""A real server for the API tests: uvicorn on a free port over a fresh PostgreSQL database.

Each server gets its own uniquely named database (`tests.support.databases`), dropped
after; uvicorn runs the real app (`create_app`) in a background thread, and the tests
talk to it over real sockets. `exchange` is the server most tests share, listed with
two markets and two funded accounts; `strict_exchange` has tight rate limits.
`serving_a_gateway` runs the same app split in two, an engine and a gateway over a
database of the local Redis, and yields the gateway's URL.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from exchange.api.auth import KeyPair
from exchange.app import create_app
from exchange.config import ProcessRole, Settings
from exchange.persistence.database import with_database
from tests.api.client import Client
from tests.support.databases import SERVER_URL, database
from tests.support.processes import free_port
from tests.support.redis import redis_database

T = TypeVar("T")


@dataclass
class Exchange:
    """A running server, its admin key and two funded accounts."""

    url: str
    admin: Client
    alice: Client
    bob: Client
    settings: Settings

    def new_account(self, scopes: str = "read,trade") -> Client:
        """Open an account with a fresh key through the admin route."""
        client = Client(self.url, KeyPair.generate())
        reply = self.admin.post(
            "/exchange/v1/accounts", "accountCreate", {"publicKey": client.keys.public_key, "scopes": scopes}
        )
        assert reply.status_code == 200, reply.text
        client.account_id = reply.json()["accountId"]
        return client

    def open_alice_and_bob(self) -> None:
        """Make Alice and Bob fresh accounts with 1000 SOL, 1 BTC and 100000 USDC each."""
        self.alice = self.new_account()
        self.bob = self.new_account()
        for client in (self.alice, self.bob):
            for symbol, quantity in (("SOL", "1000"), ("BTC", "1"), ("USDC", "100000")):
                client.fund(symbol, quantity)


@pytest.fixture(scope="session")
def database_name() -> Iterator[str]:
    """Nothing but a unique prefix for this session's databases."""
    yield f"exchange_api_{uuid.uuid4().hex[:10]}"


@dataclass
class Served:
    """A server running `app` in a thread of its own: its URL and its event loop."""

    url: str
    app: Starlette
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the server's loop (where its engine actor lives) and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)


def serving(settings: Settings, name: str) -> Iterator[Served]:
    """Run the real app with `settings` over a fresh database `name` until the generator is closed."""
    with database(name), running(settings) as served:
        yield served


@contextmanager
def running(settings: Settings) -> Iterator[Served]:
    """Run the real app with `settings` (over a database that exists) on a free port, in a thread."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", app, server.servers[0].get_loop())
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _serve(settings: Settings, name: str) -> Iterator[str]:
    for served in serving(settings, name):
        yield served.url


def serving_a_gateway(settings: Settings, name: str) -> Iterator[str]:
    """An engine and a gateway of `settings` over a new database `name` and a local Redis database: the gateway URL."""
    with database(name), redis_database() as redis_url:
        split = {"redis_url": redis_url}
        with (
            running(settings.model_copy(update={**split, "role": ProcessRole.ENGINE})),
            running(settings.model_copy(update={**split, "role": ProcessRole.GATEWAY})) as gateway,
        ):
            deadline = time.monotonic() + 30
            while httpx.get(f"{gateway.url}/ready", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "the gateway did not find the engine"
                time.sleep(0.05)
            yield gateway.url


def _settings(name: str, admin: KeyPair, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": with_database(SERVER_URL, name),
        "open_signup": True,
        "admin_public_key": admin.public_key,
        "ip_rate_limit": 0,
        "key_rate_limit": 0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def list_markets(admin: Client) -> None:
    """SOL/USDC (ticks of 0.01, steps of 0.01, 2 bps taker fee) and BTC/USDC."""
    for symbol, decimals in (("SOL", 9), ("BTC", 8), ("USDC", 6)):
        assert (
            admin.post("/admin/v1/assets", "assetCreate", {"symbol": symbol, "decimals": decimals}).status_code == 200
        )
    markets = [
        {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"},
        {"baseSymbol": "BTC", "quoteSymbol": "USDC", "tickSize": "0.1", "stepSize": "0.00001", "minQuantity": "0.0001"},
    ]
    markets[0]["takerFeeBps"] = "20"
    for market in markets:
        reply = admin.post("/admin/v1/markets", "marketCreate", market)
        assert reply.status_code == 200, reply.text


@pytest.fixture(scope="session")
def exchange(database_name: str) -> Iterator[Exchange]:
    """The shared server: two markets, Alice and Bob with 1000 SOL, 1 BTC and 100000 USDC each."""
    yield from serve_exchange(f"{database_name}_main")


def serve_exchange(name: str, *, gateway: bool = False) -> Iterator[Exchange]:
    """A server over a database `name` of its own, listed and funded like the shared `exchange`.

    With `gateway`, the server is a gateway, and its engine another server, over Redis.
    """
    admin_keys = KeyPair.generate()
    settings = _settings(name, admin_keys)
    for url in (serving_a_gateway if gateway else _serve)(settings, name):
        admin = Client(url, admin_keys)
        list_markets(admin)
        shared = Exchange(
            url=url,
            admin=admin,
            alice=Client(url, KeyPair.generate()),
            bob=Client(url, KeyPair.generate()),
            settings=settings,
        )
        shared.open_alice_and_bob()
        yield shared


@pytest.fixture(scope="session")
def strict_exchange(database_name: str) -> Iterator[str]:
    """A server with tight per-key and per-IP limits; yields its URL and serves one account.

    The windows are a minute long (3 requests per key, 12 per IP), so what a test sends
    within them is refused however slowly a loaded machine lets it send."""
    admin_keys = KeyPair.generate()
    name = f"{database_name}_strict"
    settings = _settings(name, admin_keys, key_rate_limit=0.05, key_rate_burst=3, ip_rate_limit=0.2, ip_rate_burst=12)
    yield from _serve(settings, name)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """A plain HTTP client."""
    with httpx.Client(timeout=10) as client:
        yield client
