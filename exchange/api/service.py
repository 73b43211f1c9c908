"""What every route needs: the engine actor, the catalog, keys, limits, and request plumbing.

`Api` is the routes' only dependency; the composition root builds one and stores it
on `app.state.api`. Routes read engine state only through `actor.query` (so a reply
never shows uncommitted state) and change it only through `actor.submit`; `actor` is
an `EnginePort`: the engine actor in one process, the engine over Redis in a gateway.

The `Catalog` keeps the immutable listings (assets and markets) at the API edge, so
turning a request's decimals into engine units needs no round trip to the engine.
Listings are only ever added; the catalog learns them from the events of the
commands that add them and, when a symbol is unknown (a listing made by another
component), re-reads the engine at most once a second.

Keys live in the database (`api_keys`, through `exchange.persistence.accounts.Accounts`,
which holds every statement on accounts and keys), and `lookup_key` caches each key's
principal, so a signed request costs no query. An account may hold several keys;
revoking one sets `revoked` and then changes the revocation mark
(`exchange.api.shared.Revocations`, in this process or in the Redis every gateway
shares, which also tells every gateway's websocket streams) before the reply. Every
lookup reads the mark first and drops the whole cache when it changed, so the very next
request signed by a revoked key, on any gateway, is refused. A key found in the cache
(`cached_key`) is used at once and confirmed by a read of the mark that the verifier
starts with the request's replay check, in the same round trip; if the mark changed, the
key is looked up again before the request goes on. A lookup that read the key before the
revocation committed must not put it back into the cache afterwards: it caches only if
the mark did not change while it queried.

Every database round trip a route makes is bounded by the configured database timeout
(`Accounts` and `Queries` run each through `exchange.persistence.database.bounded`):
while the database is down or frozen, a route that needs it answers 503 within that bound.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from exchange.api.auth import ApiKey, Principal, Verifier
from exchange.api.errors import RejectedError
from exchange.api.shared import SharedState
from exchange.engine.commands import Command
from exchange.engine.events import AssetAdded, Event, MarketAdded, Rejected
from exchange.engine.numbers import Asset, Market
from exchange.engine.queries import GetListings, Listings
from exchange.persistence.accounts import Accounts, KeyRefusal, StoredKey
from exchange.persistence.queries import Queries
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.decoding import Params, check_media_type, load_json, query_fields, scalar_params
from exchange.protocol.requests import Scope
from exchange.transport import EnginePort

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
        actor: EnginePort,
        accounts: Accounts,
        queries: Queries,
        shared: SharedState,
        open_signup: bool = False,
        admin_public_key: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.actor = actor
        self.accounts = accounts
        self.queries = queries
        self.catalog = Catalog()
        self.open_signup = open_signup
        self.admin_public_key = admin_public_key
        self.max_body_bytes = max_body_bytes
        self.revocations = shared.revocations
        self.verifier = Verifier(
            self.lookup_key, cached=self.cached_key, limiter=shared.key_limiter, replays=shared.replays
        )
        self._keys: dict[str, Principal] = {}
        self._mark: object = None
        """The revocation mark `_keys` was filled under."""
        self.key_revoked_listeners: list[Callable[[str], None]] = []
        """Called with each revoked public key once its revocation is committed (the app adds the streams')."""

    # -- catalog -------------------------------------------------------------------

    async def refresh_catalog(self) -> None:
        """Re-read the listings from the engine and their listing times from the database."""
        listings: Listings = await self.actor.query(GetListings())
        assets = {asset.symbol: asset for asset in listings.assets}
        markets = {state.market.symbol: state.market for state in listings.markets}
        listed_at = await self.queries.listing_times()
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

    # -- keys ----------------------------------------------------------------------

    async def lookup_key(self, public_key: str) -> Principal | None:
        """The principal of a registered, unrevoked key (the operator's key from settings too)."""
        if public_key == self.admin_public_key:
            return Principal(public_key, 0, frozenset((Scope.ADMIN, Scope.READ)))
        mark = await self.revocations.mark()
        if mark != self._mark:
            self._keys.clear()
            self._mark = mark
        principal = self._keys.get(public_key)
        if principal is not None:
            return principal
        key = await self.accounts.lookup_key(public_key)
        if key is None:
            return None
        principal = Principal(public_key, key.account_id, frozenset(Scope(s) for s in key.scopes))
        if await self.revocations.mark() == mark:
            self._keys[public_key] = principal
        return principal

    def cached_key(self, public_key: str) -> tuple[Principal, Callable[[], Coroutine[Any, Any, bool]]] | None:
        """The key's cached principal and its confirmation (`exchange.api.auth.CachedKey`); None if not cached."""
        principal = self._keys.get(public_key)
        if principal is None:
            return None
        return principal, partial(self._still_marked, self._mark)

    def _still_marked(self, mark: object) -> Coroutine[Any, Any, bool]:
        """Whether the revocation mark, read from now on, is still `mark` (the one the cache was filled under)."""
        return _equals(self.revocations.mark(), mark)

    async def create_account(self, public_key: str, scopes: frozenset[Scope], label: str | None) -> int:
        """Insert an account with its first key; 400 if the key is already registered."""
        account_id = await self.accounts.create_account(public_key, scopes, label)
        if isinstance(account_id, KeyRefusal):
            raise _refused(account_id)
        return account_id

    async def add_key(self, account_id: int, public_key: str, scopes: frozenset[Scope]) -> ApiKey:
        """Register another key of an account; 400 if the key is registered already or the account is full."""
        if public_key == self.admin_public_key:
            raise _refused(KeyRefusal.REGISTERED)
        added = await self.accounts.add_key(account_id, public_key, scopes, limit=MAX_ACTIVE_KEYS)
        if isinstance(added, KeyRefusal):
            raise _refused(added)
        return _api_key(added)

    async def account_keys(self, account_id: int, public_key: str | None = None) -> list[ApiKey]:
        """The account's keys, revoked ones too, oldest first (only `public_key`, if given)."""
        return [_api_key(key) for key in await self.accounts.keys_of(account_id, public_key)]

    async def revoke_key(self, public_key: str) -> None:
        """Mark a key revoked and change the revocation mark, so its next request, on any gateway, is refused."""
        try:
            await self.accounts.revoke_key(public_key)
        finally:
            await self.revocations.revoked(public_key)
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


async def _equals(reading: Awaitable[object], expected: object) -> bool:
    return await reading == expected


def _refused(refusal: KeyRefusal) -> ApiError:
    """The 400 answering a key the store did not register."""
    if refusal is KeyRefusal.FULL:
        return ApiError(400, Code.PRECONDITION_FAILED, f"an account holds at most {MAX_ACTIVE_KEYS} unrevoked keys")
    return ApiError(400, Code.PRECONDITION_FAILED, "this public key is already registered")


def _api_key(key: StoredKey) -> ApiKey:
    """A stored key as the key routes list it."""
    return ApiKey(
        public_key=key.public_key,
        scopes=frozenset(Scope(s) for s in key.scopes),
        created_at=key.created_at,
        revoked=key.revoked,
    )


def api_of(request: Request) -> Api:
    """The `Api` of the app serving `request`."""
    api: Api = request.app.state.api
    return api
