"""Scratch databases on the test PostgreSQL server, the one way every test package makes them.

The server is the local one (127.0.0.1:5432, user postgres, trust auth), or
`TEST_POSTGRES_URL`. `database(name)` creates a database, yields its URL (asyncpg
dialect) and drops it on exit, even while connections are open; `scratch(prefix)` does
the same under a unique name. Given a `template` (a migrated database), the new one is
a copy of it: `CREATE DATABASE ... TEMPLATE` copies files and takes milliseconds where
migrating takes a second. The statements run in a thread of their own, so these work
from synchronous code whether or not an event loop runs in the caller's thread
(Playwright's sync API runs one). A server that is not there is an error, never a skip.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from exchange.persistence.database import with_database

SERVER_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _execute(statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(with_database(SERVER_URL, "postgres").replace("+asyncpg", ""))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()


@contextmanager
def database(name: str, *, template: str | None = None) -> Iterator[str]:
    """Create database `name` (empty, or a copy of database `template`); yield its URL; drop it on exit."""
    _execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield with_database(SERVER_URL, name)
    finally:
        _execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch(prefix: str, *, template: str | None = None) -> Iterator[str]:
    """`database` under a new unique name that starts with `prefix`."""
    with database(f"{prefix}_{uuid.uuid4().hex[:12]}", template=template) as url:
        yield url


def plain(url: str) -> str:
    """`url` in the plain `postgresql://` form a platform puts in DATABASE_URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://")
