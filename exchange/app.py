"""The composition root: builds every component and wires them together in one Starlette app.

`create_app(settings)` is pure construction; nothing runs until the ASGI lifespan
starts. The lifespan then brings the process up in dependency order and takes it down
in reverse (an `AsyncExitStack`, so adding a component is one `enter` line):

1. open the database and run pending migrations;
2. build the writer, the engine actor (committing through the writer, publishing on
   the bus), the `Api` (routes' dependencies) and the websocket `Streams`;
3. take this instance's seat (`exchange.seat`): claim the database if it is free and
   rebuild the engine from it (`load_engine` refuses corrupt state), or wait for the
   claim in the background (standby, or while the active engine hands over). Once
   this instance is the engine, the services that need it start: demo listings
   (`exchange.demo.seed`), the catalog, the market-data feed, and the market maker
   and taker when enabled (`exchange.bots.run.running`);
4. freeze the garbage collector's view of everything built so far, and from then on the
   survivors of every full collection, sweeping frozen cycles every ten minutes
   (`exchange.collector`): a full collection then scans only what was promoted since
   the last, not every long-lived connection, so it stops the loop for milliseconds.

On shutdown the bots stop, then the feed, then the actor (it finishes and commits what
is queued), then the writer releases the claim and gives its connection back, then the
database closes. Components are reachable on `app.state`: `db`, `bus`, `actor`, `api`,
`streams`, `seat`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from exchange import demo, observability
from exchange.api import capital, openapi, own, private, public
from exchange.api.errors import exception_handlers
from exchange.api.ratelimit import IpRateLimitMiddleware, RateLimiter
from exchange.api.routes import routes as derived_routes
from exchange.api.service import Api, now_us
from exchange.bots.run import running as running_bots
from exchange.collector import freezing_survivors
from exchange.config import Settings
from exchange.engine.actor import EngineActor
from exchange.engine.engine import Engine
from exchange.persistence.accounts import Accounts
from exchange.persistence.database import open_database, upgrade
from exchange.persistence.queries import Queries
from exchange.persistence.recovery import load_engine
from exchange.persistence.writer import Writer
from exchange.seat import EngineSeat
from exchange.streams.bus import InMemoryBus
from exchange.streams.server import ROUTES as STREAM_ROUTES
from exchange.streams.server import Streams
from exchange.web import ROUTES as WEB_ROUTES


def routes() -> list[BaseRoute]:
    """Every HTTP route: Backpack's public and private API, the project's own, and the docs."""
    return [
        *derived_routes({**public.HANDLERS, **private.HANDLERS, **capital.HANDLERS, **own.HANDLERS}),
        *openapi.ROUTES,
        *observability.ROUTES,
        *WEB_ROUTES,
        *STREAM_ROUTES,
    ]


def create_app(settings: Settings) -> Starlette:
    """The exchange as one ASGI app; see the module docstring for its lifespan."""
    ip_limiter = RateLimiter(settings.ip_rate_limit, settings.ip_rate_burst)
    key_limiter = RateLimiter(settings.key_rate_limit, settings.key_rate_burst)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = await stack.enter_async_context(open_database(settings))
            upgrade(db.url.render_as_string(hide_password=False))
            writer = Writer(db, observe=observability.observe_stage)

            async def reload() -> Engine:
                await writer.claim()
                return await load_engine(db)

            bus = InMemoryBus()
            commit = observability.observed_commit(writer.commit)
            actor = EngineActor(
                commit=commit,
                publish=bus.publish,
                reload=reload,
                claimed=lambda: writer.holds_claim,
                observe=observability.observe_stage,
                database_timeout=settings.database_timeout,
            )
            observability.watch_actor(actor)
            accounts = Accounts(db, timeout=settings.database_timeout)
            queries = await Queries.open(db, timeout=settings.database_timeout)
            api = Api(
                actor=actor,
                accounts=accounts,
                queries=queries,
                ip_limiter=ip_limiter,
                key_limiter=key_limiter,
                open_signup=settings.open_signup,
                admin_public_key=settings.admin_public_key,
                max_body_bytes=settings.max_body_bytes,
            )
            streams = Streams(bus=bus, query=actor.query, queries=queries, verifier=api.verifier, settings=settings)
            api.key_revoked_listeners.append(streams.key_revoked)

            @asynccontextmanager
            async def engine_services() -> AsyncIterator[None]:
                """What runs only while this instance is the engine: listings, catalog, feed, bots."""
                if settings.demo:
                    await demo.seed(actor, now_us())
                await api.refresh_catalog()
                await streams.start()
                try:
                    async with running_bots(actor, accounts, settings) if settings.bots_enabled else nullcontext():
                        yield
                finally:
                    await streams.stop()

            seat = EngineSeat(
                writer=writer,
                actor=actor,
                load=lambda: load_engine(db),
                services=engine_services,
                standby=settings.standby,
            )
            observability.watch_seat(seat)
            app.state.db, app.state.bus, app.state.actor, app.state.api = db, bus, actor, api
            app.state.streams, app.state.seat = streams, seat
            await stack.enter_async_context(seat.running())
            await stack.enter_async_context(freezing_survivors())
            yield

    middleware = [
        Middleware(observability.RequestLogMiddleware),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "X-Signature", "X-Timestamp", "X-Window", "X-Broker-Id"],
            max_age=600,
        ),
        Middleware(IpRateLimitMiddleware, limiter=ip_limiter),
    ]
    return Starlette(routes=routes(), middleware=middleware, exception_handlers=exception_handlers(), lifespan=lifespan)
