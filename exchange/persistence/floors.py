"""The database's own floors, which the benchmarks set the exchange's figures beside.

`exchange bench latency` and `exchange bench persist` report what the exchange does
next to what the database alone can do on the same server in the same run; the SQL
of those baselines lives here with the rest of the exchange's SQL. Both run only on a
benchmark's scratch database (they create tables of their own there):

- `CommitFloor`: single-row INSERTs, each its own autocommitted transaction (fsync
  on, as the writer's commits), on one asyncpg connection: what durability alone
  costs one order.
- `copy_ceiling`: the writer's trade rows COPYed into a table shaped like `trades`
  (same columns and indexes), one transaction per batch: what writing the trades
  alone costs, without the writer's other work.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import BigInteger, Boolean, DateTime, Numeric, Text
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.persistence import tables
from exchange.persistence.rows import TRADE_COLUMNS


class CommitFloor:
    """Bare single-row commits on one connection to a scratch database."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, database_url: str) -> CommitFloor:
        """Connect to the scratch database at `database_url` and create the floor's table there."""
        connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        await connection.execute("CREATE TABLE bench_commit (id bigserial PRIMARY KEY, body text NOT NULL)")
        return cls(connection)

    async def latencies(self, seconds: float) -> list[float]:  # float-ok: seconds
        """Latencies of single-row autocommit INSERTs, back to back for `seconds`."""
        latencies = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await self._connection.execute("INSERT INTO bench_commit (body) VALUES ('one order')")
            latencies.append(time.perf_counter() - start)
        return latencies

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()


async def copy_ceiling(db: AsyncEngine, batches: Sequence[Sequence[Sequence[str]]]) -> float:  # float-ok: seconds
    """Seconds to COPY each batch of the writer's trade rows (`rows.trade_row`), one transaction each."""
    records = [[_typed(row) for row in batch] for batch in batches]
    async with db.connect() as connection:
        raw = await connection.get_raw_connection()
        pg: asyncpg.Connection = raw.driver_connection
        await pg.execute("CREATE TABLE trades_ceiling (LIKE trades INCLUDING ALL)")
        started = time.perf_counter()
        for rows in records:
            if rows:
                async with pg.transaction():
                    await pg.copy_records_to_table("trades_ceiling", records=rows, columns=TRADE_COLUMNS)
        return time.perf_counter() - started


_PARSERS: dict[type[Any], Callable[[str], object]] = {
    Numeric: Decimal,
    BigInteger: int,
    Boolean: lambda text: text == "t",
    DateTime: datetime.fromisoformat,
    Text: str,
}
_TRADE_PARSERS = [_PARSERS[type(tables.trades.c[name].type)] for name in TRADE_COLUMNS]


def _typed(row: Sequence[str]) -> tuple[object, ...]:
    """The writer's text row of a trade as the Python values `copy_records_to_table` takes."""
    return tuple(parse(text) for parse, text in zip(_TRADE_PARSERS, row, strict=True))
