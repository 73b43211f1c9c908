"""Without DATABASE_URL, `open_database` runs the embedded PostgreSQL: started, reused, stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from exchange.config import Settings
from exchange.persistence import tables
from exchange.persistence.database import migrate, open_database


def test_embedded_server_keeps_data_across_runs_and_stops(tmp_path: Path) -> None:
    settings = Settings(database_url=None, data_dir=tmp_path / "data")

    async def first_run() -> None:
        await migrate(settings)
        async with open_database(settings) as db, db.begin() as connection:
            await connection.execute(tables.accounts.insert().values(id=42, label="kept"))

    async def second_run() -> list[str | None]:
        async with open_database(settings) as db, db.connect() as connection:
            return list(await connection.scalars(select(tables.accounts.c.label)))

    asyncio.run(first_run())
    pgdata = tmp_path / "data" / "postgres"
    assert (pgdata / "PG_VERSION").exists()
    assert not (pgdata / "postmaster.pid").exists(), "the server must stop when the last user exits"
    assert asyncio.run(second_run()) == ["kept"]
    assert not (pgdata / "postmaster.pid").exists()
