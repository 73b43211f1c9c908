"""The batched writer: one transaction per batch of commands, one round trip for a small batch.

`Writer.commit(results)` takes the events of a batch of commands (one inner sequence
per command, as `Engine.handle` returned them) and makes their effects durable in ONE
transaction, or raises with nothing committed. It is the engine actor's only way to
the database, and its contract is what the durability rule rests on: when `commit`
returns, every event of the batch is in the database.

Theory of operation. The batch is first folded, in memory, into the final rows it
leaves behind, because most events overwrite each other: an order accepted, filled
twice and finished in one batch is one row in its last state; an account's balance
touched ten times is one row with the last absolute values (`BalanceChanged` carries
absolute values, never deltas); a market's depth sequence is the last one. Trades and
transfers are appended as they are; trades are also summed per (market, minute) into
1-minute candles. Then the whole batch is ONE statement (`write_statement`): a
data-modifying `WITH` whose parts each take their rows as `unnest`-of-arrays parameters,
one part per table that the batch has rows for, so a statement costs one round trip
however many rows it carries, and a lone order's statement runs three parts, not seven.
Its parts touch disjoint rows (an order is either new in the batch or from an earlier
one), so that they all see one snapshot does not matter.

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

Candles follow `exchange.marketdata`'s bounds and fold, in memory within the batch (in
trade id order) and in SQL against what is stored: open is kept, high/low widen, close
is the batch's last trade (trade ids grow with every batch, so the batch's trades are
the newest), volumes and counts add up.

Amounts are converted from the engine's integers to exact numeric literals with the
rule of `numbers.decimal_of` (the integer times the unit's coefficient, the unit's
exponent: 12345 ticks of 0.01 is `12345E-2`), worked out once per market instead of
once per value, and sent as text that PostgreSQL reads exactly: building `Decimal`
objects only for the driver to take them apart again costs more than the rest of
the row. Timestamps go the same way, as ISO literals of the exact microsecond. COPY's
text format needs `\\`, tab, newline and carriage return escaped; numbers, enums,
timestamps and asset symbols (alphanumeric) never hold them, so only a market symbol
could, and the writer uses COPY only while no listed market's symbol does.

The writer learns assets and markets from the database on its first commit and from
`AssetAdded`/`MarketAdded` afterwards; after a failed commit it forgets them and
reloads, so a rolled-back listing is never used.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import BigInteger, Boolean, DateTime, Numeric, Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange.engine.actor import CommitRefused
from exchange.engine.errors import RejectReason
from exchange.engine.events import (
    AssetAdded,
    BalanceChanged,
    Deposited,
    DepthChanged,
    Event,
    MarketAdded,
    MarketHaltChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    TradeExecuted,
    WithdrawalSettled,
    Withdrawn,
)
from exchange.engine.numbers import Asset, Market, unit_parts
from exchange.engine.orders import OrderSpec, OrderStatus, Side
from exchange.marketdata import Candle, minute_start
from exchange.persistence import claim, tables
from exchange.persistence.recovery import market_of
from exchange.persistence.timestamps import to_datetime

Scale = Callable[[int], str]


def scale(unit: Decimal, *, memo: bool = False) -> Scale:
    """A function writing a count of `unit` as an exact numeric literal: `numbers.decimal_of`'s rule, as text.

    `count * 0.01` is written `<count>E-2`, which PostgreSQL's numeric input reads
    exactly (keeping the unit's scale). With `memo`, recent results are kept: prices and
    quantities repeat a lot (price levels, lot sizes), balances hardly ever.
    """
    coefficient, suffix = unit_parts(unit)

    def convert(count: int) -> str:
        return f"{count * coefficient}{suffix}"

    return lru_cache(maxsize=1 << 16)(convert) if memo else convert


@lru_cache(maxsize=1 << 12)
def _second(seconds: int) -> str:
    return to_datetime(seconds * 1_000_000).strftime("%Y-%m-%dT%H:%M:%S")


def timestamp(micros: int) -> str:
    """An engine timestamp as an exact timestamptz literal in UTC; the date and time of day are made once a second."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second(seconds)}.{fraction:06d}+00:00"


def copy_text(value: str) -> str:
    """`value` escaped for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


NULL = "\\N"
"""NULL in COPY's text format (a statement's arrays take None)."""

Null = TypeVar("Null", str, None)

COPY_ROWS = 128
"""Orders plus trades appended by a batch from which COPY beats the single statement (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Units:
    """The converters of one market: price (ticks), quantity (steps), base and quote atoms."""

    market: Market
    symbol: str
    price: Scale
    quantity: Scale
    base: Scale
    quote: Scale

    @classmethod
    def of(cls, market: Market) -> Units:
        """The converters of `market`."""
        return cls(
            market=market,
            symbol=market.symbol,
            price=scale(market.tick_size, memo=True),
            quantity=scale(market.step_size, memo=True),
            base=scale(market.base.atom),
            quote=scale(market.quote.atom),
        )


@dataclass(slots=True)
class _OrderState:
    spec: OrderSpec
    status: OrderStatus
    executed: int
    executed_quote: int
    ts: int
    new: bool


@dataclass(slots=True)
class _Batch:
    """A batch folded into the rows it leaves behind (see the module docstring)."""

    assets: list[AssetAdded] = field(default_factory=list)
    markets: list[MarketAdded] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    halted: dict[str, bool] = field(default_factory=dict)
    transfers: list[Deposited | Withdrawn] = field(default_factory=list)
    settled: dict[str, WithdrawalSettled] = field(default_factory=dict)
    orders: dict[int, _OrderState] = field(default_factory=dict)
    trades: list[TradeExecuted] = field(default_factory=list)
    balances: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    candles: dict[tuple[str, int], Candle] = field(default_factory=dict)

    def empty(self) -> bool:
        """Whether the batch changed nothing (every command was rejected)."""
        parts = (self.assets, self.markets, self.sequences, self.halted, self.transfers, self.orders, self.trades)
        return not (any(parts) or self.balances or self.settled)

    def _filled(self, event: OrderFilled) -> None:
        self._order(event.order, event.status, event.executed, event.executed_quote, event.ts)

    def _cancelled(self, event: OrderCancelled) -> None:
        self._order(event.order, OrderStatus.CANCELLED, event.executed, event.executed_quote, event.ts)

    def _expired(self, event: OrderExpired) -> None:
        self._order(event.order, OrderStatus.EXPIRED, event.executed, event.executed_quote, event.ts)

    def _order(self, spec: OrderSpec, status: OrderStatus, executed: int, executed_quote: int, ts: int) -> None:
        state = self.orders.get(spec.id)
        if state is None:
            self.orders[spec.id] = _OrderState(spec, status, executed, executed_quote, ts, new=False)
        else:
            state.status, state.executed, state.executed_quote, state.ts = status, executed, executed_quote, ts

    def _accepted(self, event: OrderAccepted) -> None:
        self.orders[event.order.id] = _OrderState(event.order, OrderStatus.NEW, 0, 0, event.ts, new=True)

    def _balance(self, event: BalanceChanged) -> None:
        self.balances[event.account_id, event.asset] = (event.available, event.locked)

    def _depth(self, event: DepthChanged) -> None:
        self.sequences[event.symbol] = event.sequence

    def _halt(self, event: MarketHaltChanged) -> None:
        self.halted[event.symbol] = event.halted

    def _transfer(self, event: Deposited | Withdrawn) -> None:
        self.transfers.append(event)

    def _settle(self, event: WithdrawalSettled) -> None:
        self.settled[event.transfer_id] = event

    def _asset(self, event: AssetAdded) -> None:
        self.assets.append(event)

    def _market(self, event: MarketAdded) -> None:
        self.markets.append(event)

    def _trade(self, trade: TradeExecuted) -> None:
        self.trades.append(trade)
        key = (trade.symbol, minute_start(trade.ts))
        candle = self.candles.get(key)
        if candle is None:
            self.candles[key] = Candle.of_trade(trade)
        else:
            candle.add(trade)


_FOLDS: dict[type[Any], Callable[[_Batch, Any], None]] = {
    OrderFilled: _Batch._filled,
    TradeExecuted: _Batch._trade,
    BalanceChanged: _Batch._balance,
    OrderAccepted: _Batch._accepted,
    DepthChanged: _Batch._depth,
    OrderCancelled: _Batch._cancelled,
    OrderExpired: _Batch._expired,
    Deposited: _Batch._transfer,
    Withdrawn: _Batch._transfer,
    WithdrawalSettled: _Batch._settle,
    MarketHaltChanged: _Batch._halt,
    AssetAdded: _Batch._asset,
    MarketAdded: _Batch._market,
}

ORDER_COLUMNS = (
    "id",
    "account_id",
    "symbol",
    "side",
    "order_type",
    "price",
    "quantity",
    "quote_quantity",
    "time_in_force",
    "post_only",
    "self_trade_prevention",
    "client_id",
    "status",
    "executed_quantity",
    "executed_quote_quantity",
    "created_at",
    "updated_at",
)
TRADE_COLUMNS = (
    "id",
    "symbol",
    "price",
    "quantity",
    "quote_quantity",
    "taker_side",
    "is_buyer_maker",
    "maker_order_id",
    "taker_order_id",
    "maker_account_id",
    "taker_account_id",
    "maker_fee",
    "taker_fee",
    "maker_fee_asset",
    "taker_fee_asset",
    "ts",
)
TRANSFER_COLUMNS = (
    "transfer_id",
    "kind",
    "account_id",
    "asset",
    "amount",
    "ts",
    "status",
    "blockchain",
    "address",
    "transaction_hash",
)

INSERT_ASSETS = (
    "INSERT INTO assets (symbol, decimals, created_at, blockchains) VALUES ($1, $2, $3::text::timestamptz, $4)"
)
INSERT_MARKETS = """
INSERT INTO markets (symbol, base, quote, tick_size, step_size, min_quantity, maker_fee_bps, taker_fee_bps,
                     band_min, band_max, sequence, halted, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, false, $11::text::timestamptz)
"""
_CASTS: dict[type[Any], str] = {BigInteger: "bigint", Numeric: "numeric", Boolean: "boolean", DateTime: "timestamptz"}


def insert_from_arrays(table: Table, columns: Sequence[str], first: int) -> str:
    """`INSERT INTO table (columns)` of the rows of one text array per column, parameters `$first` onwards.

    Each value is sent as text and cast to its column's type by the server, which is
    how the writer's row builders write them (exact numeric and timestamp literals).
    """
    values = []
    for n, name in enumerate(columns):
        cast = _CASTS.get(type(table.c[name].type))
        values.append(f"c{n}::{cast}" if cast else f"c{n}")
    arrays = ", ".join(f"${first + n}::text::text[]" for n in range(len(columns)))
    aliases = ", ".join(f"c{n}" for n in range(len(columns)))
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)})\n"
        f"    SELECT {', '.join(values)}\n"
        f"    FROM unnest({arrays}) AS u({aliases})"
    )


def _markets_part(n: int) -> str:
    return f"""UPDATE markets AS m
    SET sequence = coalesce(u.sequence, m.sequence), halted = coalesce(u.halted, m.halted)
    FROM unnest(${n}::text::text[], ${n + 1}::text::bigint[], ${n + 2}::text::boolean[]) AS u(symbol, sequence, halted)
    WHERE m.symbol = u.symbol"""


def _progress_part(n: int) -> str:
    arrays = ", ".join(f"${n + k}::text::{kind}[]" for k, kind in enumerate(("bigint", "text", "text", "text", "text")))
    return f"""UPDATE orders AS o
    SET status = u.status,
        executed_quantity = u.executed::numeric,
        executed_quote_quantity = u.executed_quote::numeric,
        updated_at = u.ts::timestamptz
    FROM unnest({arrays}) AS u(id, status, executed, executed_quote, ts)
    WHERE o.id = u.id"""


def _balances_part(n: int) -> str:
    return f"""INSERT INTO balances (account_id, asset, available, locked)
    SELECT a, s, v::numeric, l::numeric
    FROM unnest(${n}::text::bigint[], ${n + 1}::text::text[], ${n + 2}::text::text[], ${n + 3}::text::text[])
         AS u(a, s, v, l)
    ON CONFLICT (account_id, asset) DO UPDATE SET available = excluded.available, locked = excluded.locked"""


def _settled_part(n: int) -> str:
    return f"""UPDATE transfers AS t
    SET status = u.status, transaction_hash = coalesce(u.hash, t.transaction_hash)
    FROM unnest(${n}::text::text[], ${n + 1}::text::text[], ${n + 2}::text::text[]) AS u(id, status, hash)
    WHERE t.transfer_id = u.id"""


def _candles_part(n: int) -> str:
    arrays = ", ".join(f"${n + k}::text::{'bigint' if k == 8 else 'text'}[]" for k in range(9))
    return f"""INSERT INTO candles_1m AS c (symbol, bucket, open, high, low, close, volume, quote_volume, trades)
    SELECT s, b::timestamptz, o::numeric, h::numeric, l::numeric, c::numeric, v::numeric, q::numeric, n
    FROM unnest({arrays}) AS u(s, b, o, h, l, c, v, q, n)
    ON CONFLICT (symbol, bucket) DO UPDATE SET
        high = greatest(c.high, excluded.high),
        low = least(c.low, excluded.low),
        close = excluded.close,
        volume = c.volume + excluded.volume,
        quote_volume = c.quote_volume + excluded.quote_volume,
        trades = c.trades + excluded.trades"""


PARTS: tuple[tuple[str, int, Callable[[int], str]], ...] = (
    ("markets_done", 3, _markets_part),
    ("orders_done", 5, _progress_part),
    ("balances_done", 4, _balances_part),
    ("candles_done", 9, _candles_part),
    ("transfers_done", len(TRANSFER_COLUMNS), lambda n: insert_from_arrays(tables.transfers, TRANSFER_COLUMNS, n)),
    ("settled_done", 3, _settled_part),
    ("orders_new", len(ORDER_COLUMNS), lambda n: insert_from_arrays(tables.orders, ORDER_COLUMNS, n)),
    ("trades_new", len(TRADE_COLUMNS), lambda n: insert_from_arrays(tables.trades, TRADE_COLUMNS, n)),
)
"""The parts of a batch's statement, in parameter order: (name, parameter count, SQL from the first parameter)."""


@lru_cache(maxsize=128)
def write_statement(present: tuple[bool, ...]) -> str:
    """The statement for a batch that has rows for the `PARTS` flagged in `present`.

    Each part with rows is a data-modifying `WITH` part taking its rows as `unnest`-of-arrays
    parameters; the statement itself is the fence, whose last parameter is the claimed
    epoch. A part with no rows is left out, so a lone order's statement has three parts, not
    seven: less for the server to run and for the writer to build. There are few shapes
    (about a dozen in practice), each prepared once on the writer's connection.
    """
    parts, n = [], 1
    for (name, width, sql), on in zip(PARTS, present, strict=True):
        if on:
            parts.append(f"{name} AS (\n    {sql(n)}\n)")
            n += width
    fence = claim.FENCE.format(n=n)
    return f"WITH {', '.join(parts)}\n{fence}" if parts else fence


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
        if not self.holds_claim:
            raise claim.ClaimLostError("this engine does not hold the database's claim")
        started = time.perf_counter()
        batch = _Batch()
        folds = _FOLDS
        for events in results:
            for event in events:
                fold = folds.get(type(event))  # a `Rejected` has none: it changed nothing
                if fold is not None:
                    fold(batch, event)
        if batch.empty():
            return  # only rejections: nothing changed, nothing to store
        try:
            if self._markets is None:
                await self._load()
            await self._write(self._pg, batch, started)
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

    def _learn(self, batch: _Batch) -> dict[str, Units]:
        assert self._markets is not None
        for added in batch.assets:
            self._assets[added.asset.symbol] = scale(added.asset.atom)
        for market_added in batch.markets:
            self._list(market_added.market)
        return self._markets

    async def _write(self, pg: asyncpg.Connection, batch: _Batch, started: float) -> None:  # float-ok: seconds
        markets = self._learn(batch)
        new = [s for s in batch.orders.values() if s.new]
        copy = self._copy_safe and len(new) + len(batch.trades) >= self._copy_rows
        if not (copy or batch.assets or batch.markets):
            statement, parameters = self._statement(batch, new, batch.trades)
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
                await pg.executemany(INSERT_MARKETS, [_market_row(m) for m in batch.markets])
            if copy:
                orders = (order_row(markets[s.spec.symbol], s, NULL) for s in new)
                await _copy(pg, "orders", ORDER_COLUMNS, orders)
                await _copy(pg, "trades", TRADE_COLUMNS, (trade_row(markets[t.symbol], t) for t in batch.trades))
                new, trades = [], []
            else:
                trades = batch.trades
            statement, parameters = self._statement(batch, new, trades)
            await pg.execute(statement, *parameters)

    def _statement(self, batch: _Batch, new: list[_OrderState], trades: list[TradeExecuted]) -> tuple[str, list[str]]:
        """The batch's statement and its parameters: one array per column of each part with rows (`new` and
        `trades` may be left to COPY), then the claimed epoch."""
        markets = self._markets
        assert markets is not None
        amount = self._assets
        symbols = sorted(set(batch.sequences) | set(batch.halted))
        rows: list[list[tuple[object, ...]]] = [
            [(s, batch.sequences.get(s), batch.halted.get(s)) for s in symbols],
            [_order_progress(markets[s.spec.symbol], s) for s in batch.orders.values() if not s.new],
            [
                (account, asset, amount[asset](available), amount[asset](locked))
                for (account, asset), (available, locked) in batch.balances.items()
            ],
            [_candle_row(markets, symbol, c) for (symbol, _), c in batch.candles.items()],
            [self._transfer_row(t, batch.settled.pop(t.transfer_id, None)) for t in batch.transfers],
            [(s.transfer_id, _settled_status(s), s.transaction_hash) for s in batch.settled.values()],
            [order_row(markets[s.spec.symbol], s, None) for s in new],
            [trade_row(markets[t.symbol], t) for t in trades],
        ]
        parameters = [column for part in rows if part for column in _columns(part)]
        return write_statement(tuple(bool(part) for part in rows)), [*parameters, str(self.epoch)]

    def _transfer_row(
        self, transfer: Deposited | Withdrawn, settled: WithdrawalSettled | None
    ) -> tuple[str | None, ...]:
        """A new transfer's row, in its final state if it was settled in the same batch (the
        statement's parts all see one snapshot, so an UPDATE could not see the new row)."""
        kind = "deposit" if isinstance(transfer, Deposited) else "withdrawal"
        amount = self._assets[transfer.asset](transfer.amount)
        chain = transfer.chain
        status = tables.PENDING if kind == "withdrawal" and chain is not None else tables.CONFIRMED
        tx = None if chain is None else chain.transaction_hash
        if settled is not None:
            status, tx = _settled_status(settled), settled.transaction_hash or tx
        return (
            transfer.transfer_id,
            kind,
            str(transfer.account_id),
            transfer.asset,
            amount,
            timestamp(transfer.ts),
            status,
            None if chain is None else chain.blockchain,
            None if chain is None else chain.address,
            tx,
        )


def _settled_status(settled: WithdrawalSettled) -> str:
    return tables.CONFIRMED if settled.confirmed else tables.FAILED


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


def _columns(rows: list[tuple[object, ...]]) -> list[str]:
    """Rows (at least one) turned into one array literal per column: the parameters of an `unnest`."""
    return [array_literal(column) for column in zip(*rows, strict=True)]


def array_literal(values: Iterable[object]) -> str:
    """`values` (text, integers, booleans, None for NULL) as a PostgreSQL array literal, every element quoted.

    A statement's array goes to the server as ONE text value that it parses (`$1::text::bigint[]`),
    not as an array the driver encodes element by element: asyncpg checks each element
    against collection ABCs, which cost more than building the row did.
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, str):
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif isinstance(value, bool):
            parts.append("t" if value else "f")
        else:
            parts.append(str(value))
    return "{" + ",".join(parts) + "}"


def _market_row(added: MarketAdded) -> tuple[object, ...]:
    m = added.market
    return (
        m.symbol,
        m.base.symbol,
        m.quote.symbol,
        m.tick_size,
        m.step_size,
        m.min_quantity,
        m.maker_fee_bps,
        m.taker_fee_bps,
        m.band_min,
        m.band_max,
        timestamp(added.ts),
    )


def order_row(units: Units, state: _OrderState, null: Null) -> tuple[str | Null, ...]:
    """An order's text row, in `ORDER_COLUMNS` order, with `null` for NULL (COPY's `NULL`, or None for arrays)."""
    spec = state.spec
    return (
        str(spec.id),
        str(spec.account_id),
        units.symbol,
        spec.side,
        spec.order_type,
        null if spec.price is None else units.price(spec.price),
        null if spec.quantity is None else units.quantity(spec.quantity),
        null if spec.quote_quantity is None else units.quote(spec.quote_quantity),
        spec.time_in_force,
        "t" if spec.post_only else "f",
        spec.self_trade_prevention,
        null if spec.client_id is None else str(spec.client_id),
        state.status,
        units.quantity(state.executed),
        units.quote(state.executed_quote),
        timestamp(spec.created_at),
        timestamp(state.ts),
    )


def _order_progress(units: Units, state: _OrderState) -> tuple[object, ...]:
    return (
        state.spec.id,
        state.status,
        units.quantity(state.executed),
        units.quote(state.executed_quote),
        timestamp(state.ts),
    )


def trade_row(units: Units, trade: TradeExecuted) -> tuple[str, ...]:
    """A trade's text row (it has no NULLs), in `TRADE_COLUMNS` order."""
    base, quote = units.market.base.symbol, units.market.quote.symbol
    taker_buys = trade.taker_side is Side.BID
    return (
        str(trade.id),
        units.symbol,
        units.price(trade.price),
        units.quantity(trade.quantity),
        units.quote(trade.quote_quantity),
        trade.taker_side,
        "f" if taker_buys else "t",
        str(trade.maker_order_id),
        str(trade.taker_order_id),
        str(trade.maker_account_id),
        str(trade.taker_account_id),
        (units.quote if taker_buys else units.base)(trade.maker_fee),
        (units.base if taker_buys else units.quote)(trade.taker_fee),
        quote if taker_buys else base,
        base if taker_buys else quote,
        timestamp(trade.ts),
    )


def _candle_row(markets: dict[str, Units], symbol: str, c: Candle) -> tuple[object, ...]:
    units = markets[symbol]
    return (
        symbol,
        timestamp(c.start),
        units.price(c.open),
        units.price(c.high),
        units.price(c.low),
        units.price(c.close),
        units.quantity(c.volume),
        units.quote(c.quote_volume),
        c.trades,
    )
