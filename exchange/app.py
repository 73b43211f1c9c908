"""The composition root: builds every component and wires them together in one Starlette app.

`create_app(settings)` is pure construction (the state gateways share, rate limits,
replays and revocations, is built there, in memory or over `REDIS_URL`:
`exchange.api.shared`; Redis is connected at first use); nothing runs until the ASGI
lifespan starts. The lifespan then brings the process up in dependency order and takes it down
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
`streams`, `shared`, `seat`.

Roles (`Settings.role`, `exchange serve --role`; see DESIGN.md, Scale):

- `all` (the default): everything above, in one process, with the in-memory inbox
  (the actor's queue) and bus; no Redis.
- `engine`: steps 1, 3 and 4 without the API and the streams: the seat's services are the
  Redis link (`exchange.transport.redis.EngineLink`: the inbox feeds the actor, committed
  replies and events go back out), the demo listings and the bots. It serves only
  `/health`, `/ready` and `/metrics`. A standby (`--standby`) takes over the link with
  the claim.
- `gateway`: no writer, no seat and no money state: the `Api` and `Streams` over a
  `RemoteEngine` (commands and queries through Redis) and a local bus fed by an
  `EventRelay`; it reads history and keys from the database (and never migrates it).
  Its streams start once the engine answers their seed query; until an engine answers,
  commands and engine reads get 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from exchange import demo, observability
from exchange.api import capital, openapi, own, private, public
from exchange.api.errors import exception_handlers
from exchange.api.ratelimit import IpRateLimitMiddleware
from exchange.api.routes import routes as derived_routes
from exchange.api.service import Api, now_us
from exchange.api.shared import SharedState
from exchange.bots.run import running as running_bots
from exchange.collector import freezing_survivors
from exchange.config import ProcessRole, Settings
from exchange.engine.actor import EngineActor, EngineUnavailableError
from exchange.engine.engine import Engine
from exchange.persistence.accounts import Accounts
from exchange.persistence.database import DatabaseUnavailableError, open_database, upgrade
from exchange.persistence.queries import Queries
from exchange.persistence.recovery import load_engine
from exchange.persistence.writer import Writer
from exchange.seat import EngineSeat
from exchange.streams.bus import Bus, InMemoryBus
from exchange.streams.server import ROUTES as STREAM_ROUTES
from exchange.streams.server import Streams
from exchange.transport import EnginePort
from exchange.transport.redis import EngineLink, EventRelay, RemoteEngine, connected
from exchange.web import ROUTES as WEB_ROUTES

log = logging.getLogger(__name__)


def routes() -> list[BaseRoute]:
    """Every HTTP route: Backpack's public and private API, the project's own, and the docs."""
    return [
        *derived_routes({**public.HANDLERS, **private.HANDLERS, **capital.HANDLERS, **own.HANDLERS}),
        *openapi.ROUTES,
        *observability.ROUTES,
        *WEB_ROUTES,
        *STREAM_ROUTES,
    ]


@asynccontextmanager
async def _started_once_the_engine_answers(streams: Streams) -> AsyncIterator[None]:
    """A gateway's streams: started in the background as soon as the engine answers their seed query."""

    async def start() -> None:
        while True:
            try:
                await streams.start()
                return
            except (EngineUnavailableError, DatabaseUnavailableError) as error:
                log.info("the streams wait for the engine (%s)", error)
                await asyncio.sleep(0.5)

    task = asyncio.create_task(start(), name="gateway-streams")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await streams.stop()


def create_app(settings: Settings) -> Starlette:
    """The exchange as one ASGI app (or one role of it); see the module docstring for its lifespan."""
    shared = SharedState.of(settings)
    role = settings.role

    def edge(app: Starlette, engine: EnginePort, bus: Bus, accounts: Accounts, queries: Queries) -> Streams:
        """The API and the streams, on `app.state`; return the streams (the lifespan starts them)."""
        api = Api(
            actor=engine,
            accounts=accounts,
            queries=queries,
            shared=shared,
            open_signup=settings.open_signup,
            admin_public_key=settings.admin_public_key,
            max_body_bytes=settings.max_body_bytes,
        )
        streams = Streams(bus=bus, query=engine.query, queries=queries, verifier=api.verifier, settings=settings)
        api.key_revoked_listeners.append(streams.key_revoked)
        app.state.api, app.state.streams, app.state.bus, app.state.shared = api, streams, bus, shared
        return streams

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(shared.close)
            if settings.loop_monitor:
                await stack.enter_async_context(observability.monitoring_loop())
            db = await stack.enter_async_context(open_database(settings))
            app.state.db = db
            accounts = Accounts(db, timeout=settings.database_timeout)
            if role is ProcessRole.GATEWAY:
                assert settings.redis_url is not None
                redis = await stack.enter_async_context(connected(settings.redis_url))
                remote = RemoteEngine(redis, timeout=settings.engine_timeout, batch=shared.batch)
                bus = InMemoryBus()
                app.state.actor = remote
                queries = await Queries.open(db, timeout=settings.database_timeout)
                await stack.enter_async_context(remote.running())
                gateway_streams = edge(app, remote, bus, accounts, queries)
                await stack.enter_async_context(EventRelay(redis, bus, gateway_streams).running())
                await stack.enter_async_context(_started_once_the_engine_answers(gateway_streams))
                await stack.enter_async_context(freezing_survivors())
                yield
                return
            upgrade(db.url.render_as_string(hide_password=False))
            writer = Writer(db, observe=observability.observe_stage)
            link: EngineLink | None = None
            if role is ProcessRole.ENGINE:
                assert settings.redis_url is not None
                redis = await stack.enter_async_context(connected(settings.redis_url))
                link = EngineLink(redis, timeout=settings.engine_timeout)

            async def reload() -> Engine:
                await writer.claim()
                engine = await load_engine(db)
                if link is not None:
                    link.new_run()
                return engine

            bus = InMemoryBus()
            actor = EngineActor(
                commit=observability.observed_commit(writer.commit),
                publish=bus.publish if link is None else link.publish,
                reload=reload,
                claimed=lambda: writer.holds_claim,
                observe=observability.observe_stage,
                database_timeout=settings.database_timeout,
            )
            observability.watch_actor(actor)
            streams: Streams | None = None
            if role is ProcessRole.ALL:
                streams = edge(app, actor, bus, accounts, await Queries.open(db, timeout=settings.database_timeout))

            @asynccontextmanager
            async def engine_services() -> AsyncIterator[None]:
                """What runs only while this instance is the engine: listings, catalog, feed, bots."""
                if settings.demo:
                    await demo.seed(actor, now_us())
                async with AsyncExitStack() as services:
                    if link is not None:
                        await services.enter_async_context(link.serving(actor))
                    if streams is not None:
                        await app.state.api.refresh_catalog()
                        await streams.start()
                        services.push_async_callback(streams.stop)
                    if settings.bots_enabled:
                        await services.enter_async_context(running_bots(actor, accounts, settings))
                    yield

            seat = EngineSeat(
                writer=writer,
                actor=actor,
                load=lambda: load_engine(db),
                services=engine_services,
                standby=settings.standby,
            )
            observability.watch_seat(seat)
            app.state.actor, app.state.seat = actor, seat
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
        Middleware(IpRateLimitMiddleware, limiter=shared.ip_limiter, exempt=observability.PROBES),
    ]
    served = observability.ROUTES if role is ProcessRole.ENGINE else routes()
    return Starlette(routes=served, middleware=middleware, exception_handlers=exception_handlers(), lifespan=lifespan)
