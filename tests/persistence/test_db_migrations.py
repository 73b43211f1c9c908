"""`exchange db upgrade` makes the schema of `tables.metadata`, and running it again changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, text

from exchange.persistence.database import create_engine
from exchange.persistence.tables import metadata
from tests.support.databases import scratch


@pytest.fixture
def empty_database() -> Iterator[str]:
    """URL of a new database with nothing in it (not even the migrations)."""
    with scratch("exchange_test_empty") as url:
        yield url


def upgrade_with_the_cli(url: str) -> subprocess.CompletedProcess[str]:
    """Run `exchange db upgrade` in a child process, the database given as Heroku would."""
    env = {**os.environ, "DATABASE_URL": url.replace("postgresql+asyncpg://", "postgres://")}
    command = [sys.executable, "-c", "from exchange.cli import main; main()", "db", "upgrade"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def schema(url: str) -> dict[str, set[str]]:
    """Table name -> column names, as the database has them."""

    async def main() -> dict[str, set[str]]:
        db = create_engine(url)
        try:
            async with db.connect() as connection:
                return await connection.run_sync(
                    lambda sync: {
                        table: {column["name"] for column in inspect(sync).get_columns(table)}
                        for table in inspect(sync).get_table_names()
                    }
                )
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_upgrade_on_empty_then_on_upgraded_database(empty_database: str) -> None:
    first = upgrade_with_the_cli(empty_database)
    assert first.returncode == 0, first.stderr
    after_first = schema(empty_database)
    second = upgrade_with_the_cli(empty_database)
    assert second.returncode == 0, second.stderr
    assert schema(empty_database) == after_first
    expected = {table.name: {column.name for column in table.columns} for table in metadata.sorted_tables}
    assert after_first == {**expected, "alembic_version": {"version_num"}}


def test_migrations_match_the_metadata_exactly(database_url: str) -> None:
    """Alembic's autogenerate finds nothing to change between the migrated schema and `metadata`."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    async def main() -> list[object]:
        db = create_engine(database_url)
        try:
            async with db.connect() as connection:
                return await connection.run_sync(
                    lambda sync: list(compare_metadata(MigrationContext.configure(sync), metadata))
                )
        finally:
            await db.dispose()

    assert asyncio.run(main()) == []


def test_mode_is_plain_postgres_when_timescaledb_cannot_load(database_url: str) -> None:
    """The migration only turns TimescaleDB on when the server has it available and preloaded."""
    from exchange.persistence.database import storage_mode
    from exchange.persistence.queries import Queries

    async def main() -> tuple[bool, str, object]:
        db = create_engine(database_url)
        try:
            async with db.connect() as connection:
                usable = await connection.scalar(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') "
                        "AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'"
                    )
                )
                mode = await storage_mode(connection)
            return bool(usable), mode, (await Queries.open(db)).timescale
        finally:
            await db.dispose()

    usable, mode, timescale = asyncio.run(main())
    assert mode == ("TimescaleDB" if usable else "plain PostgreSQL")
    assert timescale is usable


def test_transfers_made_before_0002_are_numbered_and_new_ones_follow(empty_database: str) -> None:
    from alembic import command

    from exchange.persistence.database import alembic_config, upgrade

    command.upgrade(alembic_config(empty_database), "0001")
    insert = (
        "INSERT INTO transfers (transfer_id, kind, account_id, asset, amount, ts) "
        "VALUES (:id, 'deposit', 1, 'USDC', 1, now())"
    )

    async def run(*statements: tuple[str, dict[str, str]]) -> None:
        db = create_engine(empty_database)
        try:
            async with db.begin() as connection:
                for statement, params in statements:
                    await connection.execute(text(statement), params)
        finally:
            await db.dispose()

    async def numbers() -> list[tuple[str, int]]:
        db = create_engine(empty_database)
        try:
            async with db.connect() as connection:
                rows = await connection.execute(text("SELECT transfer_id, id FROM transfers ORDER BY id"))
                return [(row.transfer_id, row.id) for row in rows]
        finally:
            await db.dispose()

    asyncio.run(run(("INSERT INTO assets (symbol, decimals, created_at) VALUES ('USDC', 6, now())", {})))
    asyncio.run(run(*((insert, {"id": name}) for name in ("first", "second"))))
    upgrade(empty_database)
    asyncio.run(run((insert, {"id": "third"})))
    assert asyncio.run(numbers()) == [("first", 1), ("second", 2), ("third", 3)]
