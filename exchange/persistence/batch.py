"""A batch: engine events folded into the rows they leave behind, and the ONE statement that writes them.

Most events of a batch overwrite each other: an order accepted, filled twice and
finished in one batch is one row in its last state; an account's balance touched ten
times is one row with the last absolute values (`BalanceChanged` carries absolute
values, never deltas); a market's depth sequence is the last one. So `Batch.of` first
folds the batch's events, in memory, into those final rows. Trades and transfers are
appended as they are; trades are also summed per (market, minute) into 1-minute candles.

Candles follow `exchange.marketdata`'s bounds and fold, in memory within the batch (in
trade id order) and in SQL against what is stored: open is kept, high/low widen, close
is the batch's last trade (trade ids grow with every batch, so the batch's trades are
the newest), volumes and counts add up.

Then the whole batch is ONE statement (`write_statement`): a data-modifying `WITH`
whose parts each take their rows as `unnest`-of-arrays parameters, one part per table
that the batch has rows for, so a statement costs one round trip however many rows it
carries, and a lone order's statement runs three parts, not seven. Its parts touch
disjoint rows (an order is either new in the batch or from an earlier one), so that
they all see one snapshot does not matter. The statement itself is the claim's fence
(`exchange.persistence.claim`). `Batch.statement` lists each part's rows in the order
of `PARTS`, so rows and SQL cannot drift apart. Listings (rare) are plain INSERTs
(`INSERT_ASSETS`, `INSERT_MARKETS`) that the writer runs before the statement, in one
transaction with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Numeric, Table

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
from exchange.engine.orders import OrderSpec, OrderStatus
from exchange.marketdata import Candle, minute_start
from exchange.persistence import claim, tables
from exchange.persistence.rows import (
    ORDER_COLUMNS,
    TRADE_COLUMNS,
    TRANSFER_COLUMNS,
    OrderState,
    Scale,
    Units,
    candle_row,
    order_progress,
    order_row,
    settled_status,
    trade_row,
    transfer_row,
)


@dataclass(slots=True)
class Batch:
    """A batch folded into the rows it leaves behind (see the module docstring)."""

    assets: list[AssetAdded] = field(default_factory=list)
    markets: list[MarketAdded] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    halted: dict[str, bool] = field(default_factory=dict)
    transfers: list[Deposited | Withdrawn] = field(default_factory=list)
    settled: dict[str, WithdrawalSettled] = field(default_factory=dict)
    orders: dict[int, OrderState] = field(default_factory=dict)
    trades: list[TradeExecuted] = field(default_factory=list)
    balances: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    candles: dict[tuple[str, int], Candle] = field(default_factory=dict)

    @classmethod
    def of(cls, results: Sequence[Sequence[Event]]) -> Batch:
        """The events of a batch of commands (one sequence per command, as `Engine.handle` returned them), folded."""
        batch = cls()
        folds = _FOLDS
        for events in results:
            for event in events:
                fold = folds.get(type(event))  # a `Rejected` has none: it changed nothing
                if fold is not None:
                    fold(batch, event)
        return batch

    def empty(self) -> bool:
        """Whether the batch changed nothing (every command was rejected)."""
        parts = (self.assets, self.markets, self.sequences, self.halted, self.transfers, self.orders, self.trades)
        return not (any(parts) or self.balances or self.settled)

    def statement(
        self,
        markets: dict[str, Units],
        amount: dict[str, Scale],
        epoch: int,
        new: list[OrderState],
        trades: list[TradeExecuted],
    ) -> tuple[str, list[str]]:
        """The batch's statement and its parameters: one array per column of each part with rows (`new` and
        `trades` may be left to COPY), then the claimed `epoch`. A withdrawal both made and settled in the
        batch is taken out of `settled` into its transfer's row."""
        symbols = sorted(set(self.sequences) | set(self.halted))
        rows: list[list[tuple[object, ...]]] = [
            [(s, self.sequences.get(s), self.halted.get(s)) for s in symbols],
            [order_progress(markets[s.spec.symbol], s) for s in self.orders.values() if not s.new],
            [
                (account, asset, amount[asset](available), amount[asset](locked))
                for (account, asset), (available, locked) in self.balances.items()
            ],
            [candle_row(markets, symbol, c) for (symbol, _), c in self.candles.items()],
            [transfer_row(amount[t.asset], t, self.settled.pop(t.transfer_id, None)) for t in self.transfers],
            [(s.transfer_id, settled_status(s), s.transaction_hash) for s in self.settled.values()],
            [order_row(markets[s.spec.symbol], s, None) for s in new],
            [trade_row(markets[t.symbol], t) for t in trades],
        ]
        parameters = [column for part in rows if part for column in _columns(part)]
        return write_statement(tuple(bool(part) for part in rows)), [*parameters, str(epoch)]

    def _filled(self, event: OrderFilled) -> None:
        self._order(event.order, event.status, event.executed, event.executed_quote, event.ts)

    def _cancelled(self, event: OrderCancelled) -> None:
        self._order(event.order, OrderStatus.CANCELLED, event.executed, event.executed_quote, event.ts)

    def _expired(self, event: OrderExpired) -> None:
        self._order(event.order, OrderStatus.EXPIRED, event.executed, event.executed_quote, event.ts)

    def _order(self, spec: OrderSpec, status: OrderStatus, executed: int, executed_quote: int, ts: int) -> None:
        state = self.orders.get(spec.id)
        if state is None:
            self.orders[spec.id] = OrderState(spec, status, executed, executed_quote, ts, new=False)
        else:
            state.status, state.executed, state.executed_quote, state.ts = status, executed, executed_quote, ts

    def _accepted(self, event: OrderAccepted) -> None:
        self.orders[event.order.id] = OrderState(event.order, OrderStatus.NEW, 0, 0, event.ts, new=True)

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


_FOLDS: dict[type[Any], Callable[[Batch, Any], None]] = {
    OrderFilled: Batch._filled,
    TradeExecuted: Batch._trade,
    BalanceChanged: Batch._balance,
    OrderAccepted: Batch._accepted,
    DepthChanged: Batch._depth,
    OrderCancelled: Batch._cancelled,
    OrderExpired: Batch._expired,
    Deposited: Batch._transfer,
    Withdrawn: Batch._transfer,
    WithdrawalSettled: Batch._settle,
    MarketHaltChanged: Batch._halt,
    AssetAdded: Batch._asset,
    MarketAdded: Batch._market,
}


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
