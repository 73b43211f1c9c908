"""Reads of committed history: klines, recent trades, 24h tickers, order, fill and transfer history.

Every function reads what the writer committed and returns plain typed rows: amounts
as the exact `Decimal`s stored, times as integer microseconds since the epoch (the
engine's unit; the API's wire module formats both). Nothing here reads the engine.

Klines and tickers follow `exchange.marketdata`, the rules the writer and the live feed
use too; the database only does the aggregating, for speed. Every Backpack interval
(`marketdata.INTERVALS`) is aggregated in SQL from the 1-minute candles, into the same
half-open buckets as `Interval.bounds`: a fixed length from the interval's origin (the
epoch; Mondays for weeks), or the calendar month in UTC (`date_trunc`). With
TimescaleDB the bucket is `time_bucket`, otherwise `date_bin`, with the same origin, so
both modes return the same klines. A query `[start, end)` returns the klines whose
start lies in it, each complete (a kline that starts before `start` is not cut off
and returned; it is left out). Open is the first minute's open, close the last
minute's close; minutes without trades have no candle, and intervals without any
minute have no kline.

A ticker is the same fold over the minutes of `marketdata.ticker_window(now)`: at most
1440 rows per market whatever the trade rate, where the trades table would grow with
it. The live feed computes the `ticker.` stream from the same minutes by the same rule,
so REST and the stream agree.

The live feed starts from `candle_seed` (stored minutes and last trade ids, read at one
snapshot, so no trade is both in a seeded minute and replayed), the API's catalog from
`listing_times`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Select, and_, case, false, func, select, text, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange.config import DATABASE_TIMEOUT
from exchange.engine.numbers import Market
from exchange.engine.orders import OrderSpec, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.marketdata import INTERVALS as INTERVALS  # noqa: PLC0414 (re-exported: the klines' table)
from exchange.marketdata import MINUTE_US, Interval, ticker_window
from exchange.marketdata import Kline as Kline  # noqa: PLC0414 (re-exported: a result type)
from exchange.marketdata import Ticker as Ticker  # noqa: PLC0414 (re-exported: a result type)
from exchange.persistence import tables
from exchange.persistence.database import bounded, storage_mode
from exchange.persistence.timestamps import to_datetime, to_micros

FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)
ONE_MINUTE = timedelta(microseconds=MINUTE_US)


@dataclass(frozen=True, slots=True)
class CandleSeed:
    """What the live candles start from: stored 1-minute candles per symbol (oldest first), last trade ids."""

    last_trade_ids: dict[str, int]
    minutes: dict[str, list[Kline]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade."""

    id: int
    symbol: str
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    is_buyer_maker: bool
    ts: int


@dataclass(frozen=True, slots=True)
class Order:
    """An order as stored: its terms and its last state (amounts in human units)."""

    id: int
    account_id: int
    symbol: str
    side: str
    order_type: str
    price: Decimal | None
    quantity: Decimal | None
    quote_quantity: Decimal | None
    time_in_force: str
    post_only: bool
    self_trade_prevention: str
    client_id: int | None
    status: str
    executed_quantity: Decimal
    executed_quote_quantity: Decimal
    created_at: int
    updated_at: int

    @staticmethod
    def of(row: Any) -> Order:
        """An `orders` table row as an `Order` (times in µs)."""
        times = {"created_at": to_micros(row.created_at), "updated_at": to_micros(row.updated_at)}
        return Order(**{**row._asdict(), **times})

    def spec(self, market: Market) -> OrderSpec:
        """The order's terms in engine units; raises `InvalidInput` if a stored amount is off its unit."""
        return OrderSpec(
            id=self.id,
            account_id=self.account_id,
            symbol=self.symbol,
            side=Side(self.side),
            order_type=OrderType(self.order_type),
            price=None if self.price is None else market.ticks(self.price),
            quantity=None if self.quantity is None else market.steps(self.quantity),
            quote_quantity=None if self.quote_quantity is None else market.quote.atoms(self.quote_quantity),
            time_in_force=TimeInForce(self.time_in_force),
            post_only=self.post_only,
            self_trade_prevention=SelfTradePrevention(self.self_trade_prevention),
            client_id=self.client_id,
            created_at=self.created_at,
        )

    def executed(self, market: Market) -> tuple[int, int]:
        """(executed steps, executed quote atoms); raises `InvalidInput` if off their units."""
        steps = market.steps(self.executed_quantity) if self.executed_quantity else 0
        atoms = market.quote.atoms(self.executed_quote_quantity) if self.executed_quote_quantity else 0
        return steps, atoms


@dataclass(frozen=True, slots=True)
class Fill:
    """One account's side of a trade."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    quote_quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    ts: int


TransferKind = Literal["deposit", "withdrawal"]
"""The `kind` of a row of the transfers table."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """One deposit or withdrawal of an account, as the writer committed it."""

    transfer_id: str
    id: int
    kind: str
    account_id: int
    asset: str
    amount: Decimal
    ts: int
    status: str
    blockchain: str | None
    address: str | None
    transaction_hash: str | None


def _transfer(row: Any) -> Transfer:
    return Transfer(**{**row._asdict(), "ts": to_micros(row.ts)})


def _kline_sql(bucket: str) -> str:
    """The kline query around a bucket expression; interval arithmetic is done in UTC, whatever the session's zone."""
    step = "CAST(CAST(:step AS text) AS interval)"
    return f"""
    WITH minutes AS (
        SELECT {bucket} AS start, bucket, open, high, low, close, volume, quote_volume, trades
        FROM candles_1m
        WHERE symbol = :symbol
          AND bucket >= CAST(:start AS timestamptz)
          AND bucket < (CAST(:end AS timestamptz) AT TIME ZONE 'UTC' + {step}) AT TIME ZONE 'UTC'
    )
    SELECT start,
           (start AT TIME ZONE 'UTC' + {step}) AT TIME ZONE 'UTC' AS "end",
           (array_agg(open ORDER BY bucket))[1] AS open,
           max(high) AS high,
           min(low) AS low,
           (array_agg(close ORDER BY bucket DESC))[1] AS close,
           sum(volume) AS volume,
           sum(quote_volume) AS quote_volume,
           sum(trades) AS trades
    FROM minutes
    WHERE start >= CAST(:start AS timestamptz) AND start < CAST(:end AS timestamptz)
    GROUP BY start
    ORDER BY start
    """


KLINES_MONTH = text(_kline_sql("date_trunc('month', bucket, 'UTC')"))
KLINES_DATE_BIN = text(
    _kline_sql("date_bin(CAST(CAST(:step AS text) AS interval), bucket, CAST(:origin AS timestamptz))")
)
KLINES_TIME_BUCKET = text(
    _kline_sql("time_bucket(CAST(CAST(:step AS text) AS interval), bucket, CAST(:origin AS timestamptz))")
)

TICKERS = """
SELECT symbol,
       (array_agg(open ORDER BY bucket))[1] AS first_price,
       (array_agg(close ORDER BY bucket DESC))[1] AS last_price,
       max(high) AS high,
       min(low) AS low,
       sum(volume) AS volume,
       sum(quote_volume) AS quote_volume,
       sum(trades) AS trades
FROM candles_1m
WHERE bucket >= CAST(:first AS timestamptz) AND bucket <= CAST(:last AS timestamptz) {and_symbol}
GROUP BY symbol
ORDER BY symbol
"""


class Queries:
    """The read queries against one database; `open` finds out whether it has TimescaleDB."""

    def __init__(self, db: AsyncEngine, *, timescale: bool, timeout: float = DATABASE_TIMEOUT) -> None:  # float-ok
        self._db = db
        self.timescale = timescale
        self._timeout = timeout
        self._klines = KLINES_TIME_BUCKET if timescale else KLINES_DATE_BIN

    @classmethod
    async def open(cls, db: AsyncEngine, *, timeout: float = DATABASE_TIMEOUT) -> Queries:  # float-ok: seconds
        """Queries for `db`, using `time_bucket` when TimescaleDB is installed there; each read bounded by `timeout`."""
        async with db.connect() as connection:
            return cls(db, timescale=await storage_mode(connection) == "TimescaleDB", timeout=timeout)

    async def _rows(self, statement: Any, params: dict[str, Any] | None = None) -> list[Any]:
        """Every row of one read, or DatabaseUnavailableError (see `exchange.persistence.database.bounded`)."""

        async def read(connection: AsyncConnection) -> list[Any]:
            return list(await connection.execute(statement, params or {}))

        return await bounded(self._db, read, seconds=self._timeout)

    async def klines(self, symbol: str, interval: str, start: int, end: int | None = None) -> list[Kline]:
        """The `interval` klines of `symbol` starting in `[start, end)` (microseconds), oldest first."""
        bucket = INTERVALS[interval]
        params = {
            "symbol": symbol,
            "step": _postgres_interval(bucket),
            "start": to_datetime(start),
            "end": FAR_FUTURE if end is None else to_datetime(end),
        }
        if bucket.seconds is None:
            statement = KLINES_MONTH
        else:
            statement, params["origin"] = self._klines, to_datetime(bucket.origin)
        return [_kline(r) for r in await self._rows(statement, params)]

    async def recent_trades(self, symbol: str, *, limit: int = 100, offset: int = 0) -> list[Trade]:
        """The market's trades, newest first."""
        t = tables.trades
        statement = (
            select(t.c.id, t.c.symbol, t.c.price, t.c.quantity, t.c.quote_quantity, t.c.is_buyer_maker, t.c.ts)
            .where(t.c.symbol == symbol)
            .order_by(t.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            Trade(
                id=r.id,
                symbol=r.symbol,
                price=r.price,
                quantity=r.quantity,
                quote_quantity=r.quote_quantity,
                is_buyer_maker=r.is_buyer_maker,
                ts=to_micros(r.ts),
            )
            for r in await self._rows(statement)
        ]

    async def tickers(self, now: int, symbol: str | None = None) -> list[Ticker]:
        """The 24h ticker at `now` (`exchange.marketdata.ticker_window`) of each market with trades in it."""
        sql = TICKERS.format(and_symbol="AND symbol = :symbol" if symbol is not None else "")
        first, last = ticker_window(now)
        params: dict[str, Any] = {"first": to_datetime(first), "last": to_datetime(last)}
        if symbol is not None:
            params["symbol"] = symbol
        return [
            Ticker(
                symbol=r.symbol,
                first_price=r.first_price,
                last_price=r.last_price,
                high=r.high,
                low=r.low,
                volume=r.volume,
                quote_volume=r.quote_volume,
                trades=int(r.trades),
            )
            for r in await self._rows(text(sql), params)
        ]

    async def order_history(
        self,
        account_id: int,
        *,
        symbol: str | None = None,
        order_id: int | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 100,
        offset: int = 0,
        ascending: bool = False,
    ) -> list[Order]:
        """An account's orders created in `[start, end)` (only `order_id`, if given), newest first or `ascending`."""
        o = tables.orders
        conditions = [o.c.account_id == account_id, *_filters(o.c.symbol, o.c.created_at, symbol, start, end)]
        if order_id is not None:
            conditions.append(o.c.id == order_id)
        order = o.c.id.asc() if ascending else o.c.id.desc()
        statement = select(o).where(and_(*conditions)).order_by(order).limit(limit).offset(offset)
        return [Order.of(r) for r in await self._rows(statement)]

    async def fill_history(
        self,
        account_id: int,
        *,
        symbol: str | None = None,
        order_id: int | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int | None = 100,
        offset: int = 0,
        ascending: bool = False,
    ) -> list[Fill]:
        """An account's fills (maker and taker) in `[start, end)`, of `order_id` if given, newest first or ascending.

        `limit` None: every fill (PnL folds them all)."""
        t = tables.trades
        filters = _filters(t.c.symbol, t.c.ts, symbol, start, end)
        as_maker = _fills(t.c.maker_account_id == account_id, filters, order_id, maker=True)
        as_taker = _fills(t.c.taker_account_id == account_id, filters, order_id, maker=False)
        both = union_all(as_maker, as_taker).subquery()
        trade = both.c.trade_id.asc() if ascending else both.c.trade_id.desc()
        statement = select(both).order_by(trade, both.c.is_maker).limit(limit).offset(offset)
        return [Fill(**{**r._asdict(), "ts": to_micros(r.ts)}) for r in await self._rows(statement)]

    async def transfer_exists(self, transfer_id: str) -> bool:
        """Whether a deposit or withdrawal with this transfer id was ever committed."""
        t = tables.transfers
        return bool(await self._rows(select(t.c.transfer_id).where(t.c.transfer_id == transfer_id)))

    async def transfer_history(
        self,
        account_id: int | None,
        *,
        kind: TransferKind,
        status: str | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 100,
        offset: int = 0,
        ascending: bool = False,
    ) -> list[Transfer]:
        """An account's (None: every account's) deposits or withdrawals in `[start, end)`, optionally of one
        `status`, newest (highest number) first or `ascending`."""
        t = tables.transfers
        conditions = [t.c.kind == kind, *_filters(t.c.asset, t.c.ts, None, start, end)]
        if account_id is not None:
            conditions.append(t.c.account_id == account_id)
        if status is not None:
            conditions.append(t.c.status == status)
        order = t.c.id.asc() if ascending else t.c.id.desc()
        statement = select(t).where(and_(*conditions)).order_by(order).limit(limit).offset(offset)
        return [_transfer(r) for r in await self._rows(statement)]

    async def transfer(self, *, transfer_id: str | None = None, number: int | None = None) -> Transfer | None:
        """The transfer with this transfer id, or with this public number (`id`)."""
        t = tables.transfers
        wanted = t.c.transfer_id == transfer_id if number is None else t.c.id == number
        rows = await self._rows(select(t).where(wanted))
        return _transfer(rows[0]) if rows else None

    async def listing_times(self) -> dict[str, int]:
        """Each market's listing time (µs), by symbol."""
        m = tables.markets.c
        return {r.symbol: to_micros(r.created_at) for r in await self._rows(select(m.symbol, m.created_at))}

    async def candle_seed(self, since: int) -> CandleSeed:
        """The 1-minute candles from `since` (µs) on and each market's last trade id, read at one snapshot.

        Not bounded by the timeout: it runs once, at startup, and reads up to weeks of minutes.
        """
        c, t = tables.candles_1m, tables.trades
        async with self._db.connect() as connection:
            await connection.execution_options(isolation_level="REPEATABLE READ")
            last = await connection.execute(select(t.c.symbol, func.max(t.c.id)).group_by(t.c.symbol))
            seed = CandleSeed(last_trade_ids={symbol: int(last_id) for symbol, last_id in last})
            minutes = select(
                c.c.symbol,
                c.c.bucket.label("start"),
                (c.c.bucket + ONE_MINUTE).label("end"),
                *(c.c[name] for name in ("open", "high", "low", "close", "volume", "quote_volume", "trades")),
            )
            for r in await connection.execute(
                minutes.where(c.c.bucket >= to_datetime(since)).order_by(c.c.symbol, c.c.bucket)
            ):
                seed.minutes.setdefault(r.symbol, []).append(_kline(r))
        return seed


def _kline(row: Any) -> Kline:
    """The kline of a selected row with `start`, `end` and the OHLCV columns."""
    return Kline(
        start=to_micros(row.start),
        end=to_micros(row.end),
        open=row.open,
        high=row.high,
        low=row.low,
        close=row.close,
        volume=row.volume,
        quote_volume=row.quote_volume,
        trades=int(row.trades),
    )


def _postgres_interval(interval: Interval) -> str:
    """A kline interval's length as PostgreSQL reads it."""
    return "1 month" if interval.seconds is None else f"{interval.seconds} seconds"


def _filters(symbol_column: Any, time_column: Any, symbol: str | None, start: int | None, end: int | None) -> list[Any]:
    conditions = []
    if symbol is not None:
        conditions.append(symbol_column == symbol)
    if start is not None:
        conditions.append(time_column >= to_datetime(start))
    if end is not None:
        conditions.append(time_column < to_datetime(end))
    return conditions


def _fills(mine: Any, filters: list[Any], order_id: int | None, *, maker: bool) -> Select[Any]:
    """One side's fills from the trades table (of order `order_id` only, if given)."""
    t = tables.trades
    if maker:
        side: Any = case((t.c.is_buyer_maker, "Bid"), else_="Ask")
        order_column, fee, fee_asset = t.c.maker_order_id, t.c.maker_fee, t.c.maker_fee_asset
        flag: Any = true()
    else:
        side, order_column, fee, fee_asset = t.c.taker_side, t.c.taker_order_id, t.c.taker_fee, t.c.taker_fee_asset
        flag = false()
    return select(
        t.c.id.label("trade_id"),
        order_column.label("order_id"),
        t.c.symbol,
        side.label("side"),
        t.c.price,
        t.c.quantity,
        t.c.quote_quantity,
        fee.label("fee"),
        fee_asset.label("fee_asset"),
        flag.label("is_maker"),
        t.c.ts,
    ).where(mine, *filters, *(() if order_id is None else (order_column == order_id,)))
