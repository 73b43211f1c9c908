"""The composition root: builds every component and wires them together in one Starlette app.

`create_app(settings)` is pure construction; nothing runs until the ASGI lifespan
starts. The lifespan then brings the process up in dependency order and takes it down
in reverse (an `AsyncExitStack`, so adding a component is one `enter` line):

1. open the database and run pending migrations;
2. rebuild the engine from it (`load_engine` refuses corrupt state);
3. start the engine actor, committing through the `Writer` and publishing on the bus;
4. expose the `Api` (routes' dependencies) on `app.state.api` and load its catalog
   (in demo mode after listing the demo markets, `exchange.demo.seed`);
5. start the market maker and taker when enabled (`exchange.bots.run.running`);
6. freeze the garbage collector's view of everything built so far, and from then on the
   survivors of every full collection, sweeping frozen cycles every ten minutes
   (`exchange.collector`): a full collection then scans only what was promoted since
   the last, not every long-lived connection, so it stops the loop for milliseconds.

On shutdown the bots stop, then the actor (it finishes and commits what is queued), then the
writer gives its connection back, then the database closes. Components are reachable on
`app.state` for the parts added later (websocket endpoint, web page, metrics, market
maker): `db`, `bus`, `actor`, `api`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from exchange import demo, observability
from exchange.api import openapi, own, private, public
from exchange.api.errors import exception_handlers
from exchange.api.ratelimit import IpRateLimitMiddleware, RateLimiter
from exchange.api.service import Api, now_us
from exchange.bots.run import running as running_bots
from exchange.collector import freezing_survivors
from exchange.config import Settings
from exchange.engine.actor import EngineActor
from exchange.engine.engine import Engine
from exchange.persistence.database import open_database, upgrade
from exchange.persistence.queries import Queries
from exchange.persistence.recovery import load_engine
from exchange.persistence.writer import Writer
from exchange.streams.bus import InMemoryBus
from exchange.streams.server import ROUTES as STREAM_ROUTES
from exchange.streams.server import Streams
from exchange.web import ROUTES as WEB_ROUTES


def routes() -> list[BaseRoute]:
    """Every HTTP route: Backpack's public and private API, the project's own, and the docs."""
    return [
        *public.ROUTES,
        *private.ROUTES,
        *own.ROUTES,
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
            engine = await load_engine(db)

            async def reload() -> Engine:
                return await load_engine(db)

            bus = InMemoryBus()
            writer = Writer(db)
            stack.push_async_callback(writer.close)
            commit = observability.observed_commit(writer.commit)
            actor = EngineActor(
                engine, commit=commit, publish=bus.publish, reload=reload, database_timeout=settings.database_timeout
            )
            await actor.start()
            observability.watch_actor(actor)
            stack.push_async_callback(actor.stop)
            api = Api(
                actor=actor,
                db=db,
                queries=await Queries.open(db, timeout=settings.database_timeout),
                ip_limiter=ip_limiter,
                key_limiter=key_limiter,
                open_signup=settings.open_signup,
                admin_public_key=settings.admin_public_key,
                max_body_bytes=settings.max_body_bytes,
                database_timeout=settings.database_timeout,
            )
            if settings.demo:
                await demo.seed(actor, now_us())
            await api.refresh_catalog()
            streams = Streams(bus=bus, query=actor.query, db=db, verifier=api.verifier)
            api.key_revoked_listeners.append(streams.key_revoked)
            await streams.start()
            stack.push_async_callback(streams.stop)
            app.state.db, app.state.bus, app.state.actor, app.state.api = db, bus, actor, api
            app.state.streams = streams
            if settings.bots_enabled:
                await stack.enter_async_context(running_bots(actor, db, settings))
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
