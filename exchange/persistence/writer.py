"""The batched writer: one transaction per batch of commands, one round trip for a small batch.

`Writer.commit(results)` takes the events of a batch of commands (one inner sequence
per command, as `Engine.handle` returned them) and makes their effects durable in ONE
transaction, or raises with nothing committed. It is the engine actor's only way to
the database, and its contract is what the durability rule rests on: when `commit`
returns, every event of the batch is in the database.

Theory of operation. The batch is first folded, in memory, into the final rows it
leaves behind, and those rows make ONE statement (`exchange.persistence.batch`), its
values spelled as exact text (`exchange.persistence.rows`). This module decides how the
rows reach the database, on which connection, and what a failure means.

A batch's commit latency is what every caller of the batch waits for, so the common
case, a small batch, is a single statement outside any explicit transaction: PostgreSQL
runs it in a transaction of its own, which commits (synchronously, WAL flushed) before
the reply comes back. That is one round trip for the whole batch, where BEGIN, a
statement per table and COMMIT would be several. A large batch is dominated by its
appends instead, and there COPY wins: it streams the rows in chunks built lazily, so the
server parses and indexes one chunk while Python builds the next. So when a batch
appends at least `COPY_ROWS` orders and trades, it is a transaction of COPY orders,
COPY trades, then the statement for the rest. Listings (rare) also take the transaction path.

The writer holds one connection of its own (taken from the engine's pool by `claim()`
and kept): no pool checkout, liveness ping or reset per batch. That connection is also
the engine's claim on the database (`exchange.persistence.claim`): it holds the advisory
lock, and every statement is the fence that refuses the whole statement unless the epoch
this writer claimed is still current. So a commit without the claim, or after it was
lost (the connection dropped, a newer epoch taken), raises `ClaimLostError` and writes
nothing; after any failure but a refusal the connection is dropped, and with it the
claim, which only `claim()` takes again (at a new epoch, on the committed state).
A batch the database refuses for its data (SQLSTATE classes 22 and 23, or an argument
asyncpg cannot encode) raises `CommitRefused` and keeps the connection and the claim:
the engine actor then isolates the offending command. `close()` releases the claim and
gives the connection back to the pool, with the pool's planner settings restored.

On that connection joins are nested loops only, and prepared statements are planned once
(`WRITER_PLANS`). Each join of a batch's statement looks its rows up by primary key,
which an index probe per row always does best. Left to itself, PostgreSQL (which
guesses ten rows for any `unnest`) chose a hash join over a sequential scan of all
orders while the table was new and kept that plan as the table grew, until
autovacuum's first ANALYZE: a commit time linear in the table's size. And it re-plans
a prepared statement on each of its first five executions and then whenever it guesses
a custom plan pays, which for these statements cost about 0.4 ms of every lone order's
commit (`exchange bench latency`); their generic plan is the nested-loop plan anyway.

The writer learns assets and markets from the database on its first commit and from
`AssetAdded`/`MarketAdded` afterwards; after a failed commit it forgets them and
reloads, so a rolled-back listing is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange.engine.actor import CommitRefused
from exchange.engine.errors import RejectReason
from exchange.engine.events import Event
from exchange.engine.numbers import Asset, Market
from exchange.persistence import claim, tables
from exchange.persistence.batch import INSERT_ASSETS, INSERT_MARKETS, Batch
from exchange.persistence.recovery import market_of
from exchange.persistence.rows import (
    NULL,
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    Scale,
    Units,
    copy_text,
    market_row,
    order_row,
    scale,
    timestamp,
    trade_row,
)

COPY_ROWS = 128
"""Orders plus trades appended by a batch from which COPY beats the single statement (see the module docstring)."""


_WRITER_PLANS = {"enable_hashjoin": "off", "enable_mergejoin": "off", "plan_cache_mode": "force_generic_plan"}
WRITER_PLANS = "; ".join(f"SET {setting} = {value}" for setting, value in _WRITER_PLANS.items())
"""The writer's session plans: every join it makes is a batch's ids against a primary key, and a
statement is planned once, when prepared, not again on each of its first executions."""
POOL_PLANS = "; ".join(f"RESET {setting}" for setting in _WRITER_PLANS)
"""Undoes `WRITER_PLANS` before the connection goes back to the pool."""


class Writer:
    """Commits batches of engine events to PostgreSQL, one transaction per batch, on a connection of its own.

    The connection is also the engine's claim on the database (`exchange.persistence.claim`):
    `claim()` takes it, every commit is fenced by its epoch, and losing the connection
    loses the claim. `commit` refuses to run without it.
    """

    def __init__(
        self,
        db: AsyncEngine,
        *,
        copy_rows: int = COPY_ROWS,
        holder: str | None = None,
        observe: Callable[[str, float], None] = lambda stage, seconds: None,
    ) -> None:
        self._db = db
        self._copy_rows = copy_rows
        self._holder = holder or claim.holder_name()
        self._observe = observe
        self._markets: dict[str, Units] | None = None
        self._assets: dict[str, Scale] = {}
        self._copy_safe = True
        self._held: AsyncConnection | None = None
        self._pg: asyncpg.Connection = None
        self.epoch: int | None = None
        """The epoch this writer claimed, while its claim holds; None otherwise."""
        self.on_handover: Callable[[], None] = lambda: None
        """Called (from the connection's notification) when another instance asks for the claim."""

    @property
    def holds_claim(self) -> bool:
        """True while the claim taken by `claim()` holds (its session is alive and not superseded)."""
        return self.epoch is not None and self._pg is not None and not self._pg.is_closed()

    async def claim(self, *, wait: bool = False, handover: bool = False, poll: float = 0.05) -> int:  # float-ok
        """Take the database's claim (lock, then a new epoch) and return the epoch.

        Without `wait`, raise `ClaimHeldError` if another engine holds it; with it, poll
        every `poll` seconds until it is free, asking its holder to hand over every
        two seconds if `handover`.
        """
        if self.holds_claim:
            assert self.epoch is not None
            return self.epoch
        await self._release(invalidate=True)
        self._markets = None
        pg = await self._connection()
        asked = -float("inf")  # float-ok: monotonic seconds
        while not await claim.try_lock(pg):
            if not wait:
                await self._release(invalidate=False)
                raise claim.ClaimHeldError("another engine holds this database's claim")
            if handover and time.monotonic() - asked > 2:
                await claim.ask_handover(pg)
                asked = time.monotonic()
            await asyncio.sleep(poll)
        self.epoch = await claim.take(pg, self._holder)
        await pg.add_listener(claim.CHANNEL, self._notified)
        pg.add_termination_listener(self._terminated)
        return self.epoch

    async def commit(self, results: Sequence[Sequence[Event]]) -> None:
        """Persist the events of a batch of commands in one transaction, or raise with nothing committed.

        Raises `ClaimLostError` if this writer does not (or no longer) hold the claim,
        and `CommitRefused` if the database refused the batch's data (a constraint or
        a value it cannot store); the connection and the claim survive that one.
        """
        epoch = self.epoch
        if epoch is None or not self.holds_claim:
            raise claim.ClaimLostError("this engine does not hold the database's claim")
        started = time.perf_counter()
        batch = Batch.of(results)
        if batch.empty():
            return  # only rejections: nothing changed, nothing to store
        try:
            if self._markets is None:
                await self._load()
            await self._write(self._pg, batch, epoch, started)
        except (asyncpg.PostgresError, ARGUMENT_REFUSED) as error:
            self._markets = None
            refused = _refusal(error)
            if refused is None:
                await self._lose(invalidate=True)
                if isinstance(error, asyncpg.PostgresError) and error.sqlstate == claim.FENCED:
                    raise claim.ClaimLostError(str(error)) from error
                raise
            raise refused from error
        except BaseException:
            self._markets = None
            await self._lose(invalidate=True)
            raise

    async def close(self) -> None:
        """Release the claim and give the writer's connection back to the pool."""
        if self.holds_claim:
            with contextlib.suppress(Exception):
                await claim.release(self._pg)
        await self._lose(invalidate=False)

    async def _lose(self, *, invalidate: bool) -> None:
        self.epoch = None
        await self._release(invalidate=invalidate)

    def _notified(self, connection: object, pid: int, channel: str, payload: str) -> None:
        if self.epoch is None:
            return
        if payload == claim.HANDOVER:
            self.on_handover()
            return
        superseding = claim.superseding_epoch(payload)
        if superseding is not None and superseding > self.epoch:
            self.epoch = None  # the fence would refuse the next commit anyway

    def _terminated(self, connection: object) -> None:
        self.epoch = None

    async def _connection(self) -> asyncpg.Connection:
        if self._held is None:
            held = await self._db.connect()
            raw = await held.get_raw_connection()
            self._held, self._pg = held, raw.driver_connection
            await self._pg.execute(WRITER_PLANS)
        return self._pg

    async def _release(self, *, invalidate: bool) -> None:
        held, pg, self._held, self._pg = self._held, self._pg, None, None
        if held is None:
            return
        with contextlib.suppress(Exception):
            pg.remove_termination_listener(self._terminated)
            if invalidate:  # no round trip: the server may not answer (frozen, or gone)
                pg.terminate()
                await held.invalidate()  # never reuse a connection whose state is unknown
            else:
                await pg.remove_listener(claim.CHANNEL, self._notified)
                await pg.execute(POOL_PLANS)
            await held.close()

    async def _load(self) -> None:
        """Learn the listed assets and markets (in a connection of its own: the write bypasses SQLAlchemy)."""
        async with self._db.connect() as connection:
            assets = {
                row.symbol: Asset(symbol=row.symbol, decimals=row.decimals)
                for row in await connection.execute(select(tables.assets.c.symbol, tables.assets.c.decimals))
            }
            rows = await connection.execute(select(tables.markets))
            markets = [market_of(row._mapping, assets) for row in rows]
        self._assets = {symbol: scale(asset.atom) for symbol, asset in assets.items()}
        self._markets = {}
        self._copy_safe = True
        for market in markets:
            self._list(market)

    def _list(self, market: Market) -> None:
        assert self._markets is not None
        self._markets[market.symbol] = Units.of(market)
        self._copy_safe = self._copy_safe and copy_text(market.symbol) == market.symbol

    def _learn(self, batch: Batch) -> dict[str, Units]:
        assert self._markets is not None
        for added in batch.assets:
            self._assets[added.asset.symbol] = scale(added.asset.atom)
        for market_added in batch.markets:
            self._list(market_added.market)
        return self._markets

    async def _write(self, pg: asyncpg.Connection, batch: Batch, epoch: int, started: float) -> None:  # float-ok: secs
        """Write `batch`, fenced by the `epoch` its commit began under (should the claim be lost meanwhile, the
        fence refuses the statement: `ClaimLostError`, never a batch refused for its data)."""
        markets = self._learn(batch)
        new = [s for s in batch.orders.values() if s.new]
        copy = self._copy_safe and len(new) + len(batch.trades) >= self._copy_rows
        if not (copy or batch.assets or batch.markets):
            statement, parameters = batch.statement(markets, self._assets, epoch, new, batch.trades)
            built = time.perf_counter()
            self._observe("write_build", built - started)
            await pg.execute(statement, *parameters)  # its own transaction
            self._observe("commit", time.perf_counter() - built)
            return
        async with pg.transaction():
            if batch.assets:
                rows = [
                    (a.asset.symbol, a.asset.decimals, timestamp(a.ts), list(a.asset.blockchains)) for a in batch.assets
                ]
                await pg.executemany(INSERT_ASSETS, rows)
            if batch.markets:
                await pg.executemany(INSERT_MARKETS, [market_row(m) for m in batch.markets])
            if copy:
                orders = (order_row(markets[s.spec.symbol], s, NULL) for s in new)
                await _copy(pg, "orders", ORDER_COLUMNS, orders)
                await _copy(pg, "trades", TRADE_COLUMNS, (trade_row(markets[t.symbol], t) for t in batch.trades))
                new, trades = [], []
            else:
                trades = batch.trades
            statement, parameters = batch.statement(markets, self._assets, epoch, new, trades)
            await pg.execute(statement, *parameters)


ARGUMENT_REFUSED = asyncpg.exceptions._base.DataError
"""asyncpg's own refusal of a query argument it cannot encode (raised before anything is sent)."""


def _refusal(error: Exception) -> CommitRefused | None:
    """The rejection to give the command whose data the database refused, or None for any other failure.

    A data exception (SQLSTATE class 22: a NUL in a text, a value out of range) or an
    integrity violation (class 23) is about the batch, not the connection. A transfer id
    that is already stored is the engine's own DUPLICATE_TRANSFER: the engine remembers
    only recent transfer ids, and the table's primary key is the final word.
    """
    if isinstance(error, asyncpg.UniqueViolationError) and error.constraint_name == "pk_transfers":
        return CommitRefused(RejectReason.DUPLICATE_TRANSFER, "the transfer was already applied")
    if isinstance(error, ARGUMENT_REFUSED) or (
        isinstance(error, asyncpg.PostgresError) and error.sqlstate[:2] in ("22", "23")
    ):
        return CommitRefused(RejectReason.UNSTORABLE, f"the database refused the command: {error}")
    return None


async def _copy(pg: asyncpg.Connection, table: str, columns: Sequence[str], rows: Iterable[tuple[str, ...]]) -> None:
    """COPY text rows (already escaped, NULL as `\\N`) into `table`, built while the server takes them in."""
    await pg.copy_to_table(table, source=_chunks(rows), columns=columns, format="text")


async def _chunks(rows: Iterable[tuple[str, ...]], size: int = 512) -> AsyncIterator[bytes]:
    """COPY data, a chunk per `size` rows.

    Rows are made lazily, so the server parses and indexes one chunk while Python builds
    the next (two processes, two cores). asyncpg reads file objects through a thread
    pool but async iterables directly.
    """
    lines: list[str] = []
    for row in rows:
        lines.append("\t".join(row))
        if len(lines) == size:
            lines.append("")
            yield "\n".join(lines).encode()
            lines = []
    if lines:
        lines.append("")
        yield "\n".join(lines).encode()
