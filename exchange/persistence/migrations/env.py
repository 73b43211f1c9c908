"""Alembic environment: run the migrations online over asyncpg, one at a time.

The URL comes from `config.attributes["url"]` (set by `exchange.persistence.database.upgrade`)
or else from the environment through `Settings`. A transaction-level advisory lock makes
concurrent upgrades of the same database (two processes starting at once) take turns
instead of racing on the version table.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection, text

from exchange.config import Settings, normalize_database_url
from exchange.persistence.database import create_engine
from exchange.persistence.tables import metadata

MIGRATION_LOCK = 7_310_001


def _url() -> str:
    url = context.config.attributes.get("url") or Settings().database_url
    if not url:
        raise SystemExit("set DATABASE_URL to the database to migrate")
    return normalize_database_url(str(url))


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def _run() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `exchange db upgrade`")
asyncio.run(_run())
