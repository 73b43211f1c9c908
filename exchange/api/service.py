"""What every route needs: the engine actor, the catalog, keys, limits, and request plumbing.

`Api` is the routes' only dependency; the composition root builds one and stores it
on `app.state.api`. Routes read engine state only through `actor.query` (so a reply
never shows uncommitted state) and change it only through `actor.submit`.

The `Catalog` keeps the immutable listings (assets and markets) at the API edge, so
turning a request's decimals into engine units needs no round trip to the engine.
Listings are only ever added; the catalog learns them from the events of the
commands that add them and, when a symbol is unknown (a listing made by another
component), re-reads the engine at most once a second.

Keys live in the database (`api_keys`), and `lookup_key` caches each key's principal,
so a signed request costs no query. An account may hold several keys; revoking one
sets `revoked` and evicts it from the cache in the same call, before the reply, so the
very next request signed by it is refused. A lookup that read the key before the
revocation committed must not put it back into the cache afterwards: every revocation
bumps `_revocations`, and a lookup caches only if no revocation happened while it
queried. (The cache is per process: replicas behind a load balancer would each need
the eviction.)

Every database round trip a route makes goes through `Api.database`, bounded by
`database_timeout` (`exchange.persistence.database.bounded`): while the database is
down or frozen, a route that needs it answers 503 within that bound.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from exchange.api.auth import ApiKey, Principal, Verifier
from exchange.api.errors import RejectedError
from exchange.api.ratelimit import RateLimiter
from exchange.config import DATABASE_TIMEOUT
from exchange.engine.actor import EngineActor
from exchange.engine.commands import Command
from exchange.engine.events import AssetAdded, Event, MarketAdded, Rejected
from exchange.engine.numbers import Asset, Market
from exchange.engine.queries import GetListings, Listings
from exchange.persistence import tables
from exchange.persistence.database import bounded
from exchange.persistence.queries import Queries
from exchange.persistence.timestamps import to_micros
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.decoding import Params, check_media_type, load_json, query_fields, scalar_params
from exchange.protocol.ours import Scope

T = TypeVar("T")

MAX_BODY_BYTES = 64 * 1024
MAX_ACTIVE_KEYS = 100


def now_us() -> int:
    """The API edge's clock for command timestamps: integer microseconds."""
    return time.time_ns() // 1000


class JsonResponse(Response):
    """A JSON reply serialized with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(slots=True)
class Catalog:
    """Assets and markets by symbol, with each market's listing time (µs)."""

    assets: dict[str, Asset] = field(default_factory=dict)
    markets: dict[str, Market] = field(default_factory=dict)
    listed_at: dict[str, int] = field(default_factory=dict)
    refreshed: float = 0.0

    def learn(self, events: Sequence[Event]) -> None:
        """Remember listings from committed events."""
        for event in events:
            if isinstance(event, AssetAdded):
                self.assets[event.asset.symbol] = event.asset
            elif isinstance(event, MarketAdded):
                self.markets[event.market.symbol] = event.market
                self.listed_at[event.market.symbol] = event.ts


class Api:
    """The routes' dependencies and the helpers they share."""

    def __init__(
        self,
        *,
        actor: EngineActor,
        db: AsyncEngine,
        queries: Queries,
        ip_limiter: RateLimiter,
        key_limiter: RateLimiter,
        open_signup: bool = False,
        admin_public_key: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        database_timeout: float = DATABASE_TIMEOUT,
    ) -> None:
        self.actor = actor
        self.db = db
        self.database_timeout = database_timeout
        self.queries = queries
        self.catalog = Catalog()
        self.ip_limiter = ip_limiter
        self.open_signup = open_signup
        self.admin_public_key = admin_public_key
        self.max_body_bytes = max_body_bytes
        self.verifier = Verifier(self.lookup_key, limiter=key_limiter)
        self._keys: dict[str, Principal] = {}
        self._revocations = 0
        self.key_revoked_listeners: list[Callable[[str], None]] = []
        """Called with each revoked public key once its revocation is committed (the app adds the streams')."""

    # -- catalog -------------------------------------------------------------------

    async def refresh_catalog(self) -> None:
        """Re-read the listings from the engine and their listing times from the database."""
        listings: Listings = await self.actor.query(GetListings())
        assets = {asset.symbol: asset for asset in listings.assets}
        markets = {state.market.symbol: state.market for state in listings.markets}

        async def read(connection: AsyncConnection) -> dict[str, int]:
            rows = await connection.execute(select(tables.markets.c.symbol, tables.markets.c.created_at))
            return {row.symbol: to_micros(row.created_at) for row in rows}

        listed_at = await self.database(read)
        self.catalog.assets, self.catalog.markets = assets, markets
        self.catalog.listed_at.update(listed_at)
        self.catalog.refreshed = time.monotonic()

    async def markets(self, symbol: object = None) -> Mapping[str, Market]:
        """The markets, re-read first if `symbol` is given but not (yet) known."""
        if (
            isinstance(symbol, str)
            and symbol not in self.catalog.markets
            and time.monotonic() - self.catalog.refreshed > 1
        ):
            await self.refresh_catalog()
        return self.catalog.markets

    async def market(self, symbol: object) -> Market:
        """The market named `symbol`, or 400 INVALID_MARKET."""
        market = (await self.markets(symbol)).get(symbol) if isinstance(symbol, str) else None
        if market is None:
            raise ApiError(400, Code.INVALID_MARKET, f"Invalid market symbol {symbol}")
        return market

    async def asset(self, symbol: object) -> Asset:
        """The asset named `symbol`, or 400 INVALID_ASSET."""
        if isinstance(symbol, str) and symbol not in self.catalog.assets:
            await self.markets(symbol)
        asset = self.catalog.assets.get(symbol) if isinstance(symbol, str) else None
        if asset is None:
            raise ApiError(400, Code.INVALID_ASSET, f"Invalid asset symbol {symbol}")
        return asset

    # -- commands ------------------------------------------------------------------

    async def execute(self, command: Command) -> list[Event]:
        """Submit a command; return its committed events or raise RejectedError."""
        events = await self.actor.submit(command)
        if events and isinstance(events[0], Rejected):
            raise RejectedError(events[0])
        self.catalog.learn(events)
        return events

    async def database(self, work: Callable[[AsyncConnection], Awaitable[T]], *, begin: bool = False) -> T:
        """`work` on a connection (in a transaction if `begin`), bounded: 503 if the database fails to answer."""
        return await bounded(self.db, work, seconds=self.database_timeout, begin=begin)

    # -- keys ----------------------------------------------------------------------

    async def lookup_key(self, public_key: str) -> Principal | None:
        """The principal of a registered, unrevoked key (the operator's key from settings too)."""
        if public_key == self.admin_public_key:
            return Principal(public_key, 0, frozenset((Scope.ADMIN, Scope.READ)))
        principal = self._keys.get(public_key)
        if principal is not None:
            return principal
        revocations = self._revocations

        async def read(connection: AsyncConnection) -> Any:
            query = select(tables.api_keys.c.account_id, tables.api_keys.c.scopes).where(
                tables.api_keys.c.public_key == public_key, tables.api_keys.c.revoked.is_(False)
            )
            return (await connection.execute(query)).first()

        row = await self.database(read)
        if row is None:
            return None
        principal = Principal(public_key, int(row.account_id), frozenset(Scope(s) for s in row.scopes))
        if revocations == self._revocations:
            self._keys[public_key] = principal
        return principal

    async def create_account(self, public_key: str, scopes: frozenset[Scope], label: str | None) -> int:
        """Insert an account with its first key; 400 if the key is already registered."""

        async def write(connection: AsyncConnection) -> Any:
            account_id = await connection.scalar(
                insert(tables.accounts).values(label=label).returning(tables.accounts.c.id)
            )
            await connection.execute(
                insert(tables.api_keys).values(
                    public_key=public_key, account_id=account_id, scopes=sorted(s.value for s in scopes)
                )
            )
            return account_id

        try:
            account_id = await self.database(write, begin=True)
        except IntegrityError:
            raise ApiError(400, Code.INVALID_CLIENT_REQUEST, "this public key is already registered") from None
        assert account_id is not None
        return int(account_id)

    async def add_key(self, account_id: int, public_key: str, scopes: frozenset[Scope]) -> ApiKey:
        """Register another key of an account; 400 if the key is registered already or the account is full."""
        if public_key == self.admin_public_key:
            raise ApiError(400, Code.INVALID_CLIENT_REQUEST, "this public key is already registered")
        keys = tables.api_keys.c

        async def write(connection: AsyncConnection) -> Any:
            # The account's row lock serialises concurrent adds, so none of them can overshoot the limit.
            await connection.execute(
                select(tables.accounts.c.id).where(tables.accounts.c.id == account_id).with_for_update()
            )
            active = await connection.scalar(
                select(func.count()).where(keys.account_id == account_id, keys.revoked.is_(False))
            )
            if (active or 0) >= MAX_ACTIVE_KEYS:
                raise ApiError(
                    400, Code.INVALID_CLIENT_REQUEST, f"an account holds at most {MAX_ACTIVE_KEYS} unrevoked keys"
                )
            return await connection.scalar(
                insert(tables.api_keys)
                .values(public_key=public_key, account_id=account_id, scopes=sorted(s.value for s in scopes))
                .returning(keys.created_at)
            )

        try:
            created_at = await self.database(write, begin=True)
        except IntegrityError:
            raise ApiError(400, Code.INVALID_CLIENT_REQUEST, "this public key is already registered") from None
        assert isinstance(created_at, datetime)
        return ApiKey(public_key=public_key, scopes=scopes, created_at=to_micros(created_at), revoked=False)

    async def account_keys(self, account_id: int, public_key: str | None = None) -> list[ApiKey]:
        """The account's keys, revoked ones too, oldest first (only `public_key`, if given)."""
        keys = tables.api_keys.c
        query = (
            select(keys.public_key, keys.scopes, keys.created_at, keys.revoked)
            .where(keys.account_id == account_id)
            .order_by(keys.created_at, keys.public_key)
        )
        if public_key is not None:
            query = query.where(keys.public_key == public_key)

        async def read(connection: AsyncConnection) -> list[ApiKey]:
            rows = await connection.execute(query)
            return [
                ApiKey(
                    public_key=row.public_key,
                    scopes=frozenset(Scope(s) for s in row.scopes),
                    created_at=to_micros(row.created_at),
                    revoked=bool(row.revoked),
                )
                for row in rows
            ]

        return await self.database(read)

    async def revoke_key(self, public_key: str) -> None:
        """Mark a key revoked and forget its principal, so its next request is refused."""
        revoke = update(tables.api_keys).where(tables.api_keys.c.public_key == public_key).values(revoked=True)
        try:
            await self.database(lambda connection: connection.execute(revoke), begin=True)
        finally:
            self._revocations += 1
            self._keys.pop(public_key, None)
        for listener in self.key_revoked_listeners:
            listener(public_key)

    # -- requests ------------------------------------------------------------------

    async def body(self, request: Request) -> Any:
        """The decoded JSON body, at most `max_body_bytes` long (413 otherwise) and sent as JSON (415 otherwise)."""
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            raise ApiError(413, Code.INVALID_CLIENT_REQUEST, f"the body must be at most {self.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:  # ASGI messages read directly: `request.stream()` costs an async generator per request
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > self.max_body_bytes:
                raise ApiError(
                    413, Code.INVALID_CLIENT_REQUEST, f"the body must be at most {self.max_body_bytes} bytes"
                )
            chunks.append(chunk)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if not body.strip():
            return {}
        check_media_type(request.headers.get("content-type"))
        return load_json(body)

    async def params(self, request: Request) -> Params:
        """The request's flat params: the JSON body object, or the query string of a GET."""
        if request.method == "GET":
            return query_params(request)
        return scalar_params(await self.body(request))


def query_params(request: Request) -> Params:
    """The query string as flat params (`exchange.protocol.decoding.query_fields`)."""
    return query_fields(request.query_params.multi_items())


def api_of(request: Request) -> Api:
    """The `Api` of the app serving `request`."""
    api: Api = request.app.state.api
    return api
