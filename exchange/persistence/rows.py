"""The writer's rows: engine values spelled as the exact text PostgreSQL reads, one tuple per row.

Amounts are converted from the engine's integers to exact numeric literals with the
rule of `numbers.decimal_of` (the integer times the unit's coefficient, the unit's
exponent: 12345 ticks of 0.01 is `12345E-2`), worked out once per market (`Units`)
instead of once per value, and sent as text that PostgreSQL reads exactly: building
`Decimal` objects only for the driver to take them apart again costs more than the
rest of the row. Timestamps go the same way, as ISO literals of the exact microsecond.

A row builder returns its values in the order of its table's `*_COLUMNS`, which both
ways of sending rows share: a COPY line (NULL spelled `NULL`) and a statement's
`unnest` arrays (NULL as None; `exchange.persistence.batch` makes each column one array
literal). COPY's
text format needs `\\`, tab, newline and carriage return escaped; numbers, enums,
timestamps and asset symbols (alphanumeric) never hold them, so only a market symbol
could, and the writer uses COPY only while no listed market's symbol does (`copy_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TypeVar

from exchange.engine.events import Deposited, MarketAdded, TradeExecuted, WithdrawalSettled, Withdrawn
from exchange.engine.numbers import Market, unit_parts
from exchange.engine.orders import OrderSpec, OrderStatus, Side
from exchange.marketdata import Candle
from exchange.persistence import tables
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
class OrderState:
    """An order as a batch leaves it: its spec, its last status and execution, and whether the batch accepted it."""

    spec: OrderSpec
    status: OrderStatus
    executed: int
    executed_quote: int
    ts: int
    new: bool


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


def market_row(added: MarketAdded) -> tuple[object, ...]:
    """A listed market's parameters of `batch.INSERT_MARKETS`."""
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


def order_row(units: Units, state: OrderState, null: Null) -> tuple[str | Null, ...]:
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


def order_progress(units: Units, state: OrderState) -> tuple[object, ...]:
    """How far an order from an earlier batch has come: id, status, executed quantities, when."""
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


def candle_row(markets: dict[str, Units], symbol: str, c: Candle) -> tuple[object, ...]:
    """A batch's 1-minute candle of `symbol`, to be merged with the stored one."""
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


def transfer_row(
    amount: Scale, transfer: Deposited | Withdrawn, settled: WithdrawalSettled | None
) -> tuple[str | None, ...]:
    """A new transfer's row, `amount` writing its asset's atoms, in its final state if it was settled in the
    same batch (the statement's parts all see one snapshot, so an UPDATE could not see the new row)."""
    kind = "deposit" if isinstance(transfer, Deposited) else "withdrawal"
    chain = transfer.chain
    status = tables.PENDING if kind == "withdrawal" and chain is not None else tables.CONFIRMED
    tx = None if chain is None else chain.transaction_hash
    if settled is not None:
        status, tx = settled_status(settled), settled.transaction_hash or tx
    return (
        transfer.transfer_id,
        kind,
        str(transfer.account_id),
        transfer.asset,
        amount(transfer.amount),
        timestamp(transfer.ts),
        status,
        None if chain is None else chain.blockchain,
        None if chain is None else chain.address,
        tx,
    )


def settled_status(settled: WithdrawalSettled) -> str:
    """The status a settlement leaves its withdrawal in."""
    return tables.CONFIRMED if settled.confirmed else tables.FAILED
