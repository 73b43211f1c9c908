"""`bounded`: a database that does not answer is a DatabaseUnavailableError on time; an error about the data is not."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from exchange.persistence import tables
from exchange.persistence.database import DatabaseUnavailableError, bounded, create_engine


def test_a_stalled_read_gives_up_on_time_and_a_refused_row_is_not_an_outage(database_url: str) -> None:
    async def run() -> float:
        db = create_engine(database_url)
        try:

            async def stall(connection: AsyncConnection) -> object:
                return await connection.scalar(text("SELECT pg_sleep(30)"))

            async def duplicate(connection: AsyncConnection) -> None:
                await connection.execute(tables.accounts.insert().values(id=1, label="a"))
                await connection.execute(tables.accounts.insert().values(id=1, label="b"))

            start = time.monotonic()
            with pytest.raises(DatabaseUnavailableError):
                await bounded(db, stall, seconds=0.5)
            took = time.monotonic() - start
            with pytest.raises(IntegrityError):
                await bounded(db, duplicate, seconds=5, begin=True)
            assert await bounded(db, lambda c: c.scalar(text("SELECT count(*) FROM accounts")), seconds=5) == 0
            return took
        finally:
            await db.dispose()

    took = asyncio.run(run())
    assert 0.5 <= took < 0.7, took
