"""Market-data rules, stated once: kline intervals and their bounds, the OHLCV fold, the 24-hour ticker.

Pure and synchronous: no I/O, no clock, no asyncio, no SQL. Times are integer
microseconds since the Unix epoch (the engine's unit) and every calendar question is
answered in UTC, so no daylight-saving shift ever moves a bound. The writer
(`exchange.persistence.batch`, folding trades into 1-minute candles), the live feed
(`exchange.streams.market`, live candles and tickers) and the read queries
(`exchange.persistence.queries`, klines and tickers aggregated in SQL) all take their
rules from here, so a REST ticker and a websocket ticker at the same moment agree.

Bounds. Every candle is half-open, `[start, end)`. The 1-minute candle of a trade
starts at its timestamp rounded down to the minute. A kline interval of fixed length is
aligned on the Unix epoch, except weeks, which start on Mondays (origin 1970-01-05, as
Binance does); `1month` is the calendar month in UTC.

The fold. A candle absorbs a later candle (a trade is a candle of one trade): the open
is kept, high and low widen, the close becomes the later one's close, volumes and
counts add up. "Later" means higher trade ids; every user folds in trade id order (the
engine emits trades in id order and commits batches in order), so the close is the
close of the highest trade id. The SQL aggregates follow the same rule: open is the
first minute's open, close the last minute's close, high/low the extremes, the rest sums.

The 24-hour ticker. At time `now` it is the fold of the 1-minute candles of the 1440
minutes ending with `now`'s minute (`ticker_window`): minute granularity, so at most
1440 rows per market whatever the trade rate, and the same answer from the stored
candles (REST) and from the live ones (websocket). A market with no candle in the
window has no ticker. Its price change is last minus first; the change "percent" is a
fraction (Backpack's `priceChangePercent`: 0.1 for +10%), the exact quotient rounded
half to even at `PERCENT_PLACES` decimal places, so it never shows "-0".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import MAX_PREC, Context, Decimal
from fractions import Fraction

from exchange.engine.events import TradeExecuted
from exchange.engine.numbers import Market

US = 1_000_000
MINUTE_US = 60 * US
DAY_US = 86_400 * US
TICKER_WINDOW_US = DAY_US
"""The ticker's span: its window is the `TICKER_WINDOW_US // MINUTE_US` minutes ending with the current one."""
PERCENT_PLACES = 6
"""Decimal places of the ticker's price change fraction."""

EXACT = Context(prec=MAX_PREC)
"""Decimal arithmetic without rounding (a difference of two decimals is always exact)."""

EPOCH_ORIGIN_US = 0
MONDAY_ORIGIN_US = 4 * DAY_US
"""1970-01-05T00:00Z, the first Monday after the epoch: where weeks start."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A kline interval: `seconds` long from `origin` (µs), or, with `seconds` None, a calendar month in UTC."""

    name: str
    seconds: int | None
    origin: int = EPOCH_ORIGIN_US

    def bounds(self, ts: int) -> tuple[int, int]:
        """`[start, end)` in µs of the candle of this interval holding `ts`."""
        if self.seconds is None:
            moment = datetime.fromtimestamp(ts // US, UTC)
            first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            following = (first + timedelta(days=32)).replace(day=1)
            return int(first.timestamp()) * US, int(following.timestamp()) * US
        length = self.seconds * US
        start = ts - (ts - self.origin) % length
        return start, start + length


_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86_400}
"""The units of a fixed interval's name: `15m` is 15 times 60 seconds."""


def _fixed(name: str) -> Interval:
    return Interval(name, int(name[:-1]) * _UNIT_SECONDS[name[-1]])


INTERVALS: dict[str, Interval] = {
    interval.name: interval
    for interval in (
        *map(_fixed, ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d")),
        Interval("1w", 7 * 86_400, origin=MONDAY_ORIGIN_US),
        Interval("1month", None),
    )
}
"""Backpack's kline intervals, by name, shortest first."""


def minute_start(ts: int) -> int:
    """The start (µs) of the 1-minute candle holding `ts`."""
    return ts - ts % MINUTE_US


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle of some interval in decimals: `[start, end)` in microseconds."""

    start: int
    end: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int


@dataclass(slots=True)
class Candle:
    """Open, high, low, close (ticks), volume (steps), quote volume (atoms) and trade count of `[start, end)`."""

    start: int
    end: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int

    @classmethod
    def of_trade(cls, trade: TradeExecuted) -> Candle:
        """The 1-minute candle of one trade."""
        start = minute_start(trade.ts)
        price = trade.price
        return cls(start, start + MINUTE_US, price, price, price, price, trade.quantity, trade.quote_quantity, 1)

    def spanning(self, start: int, end: int) -> Candle:
        """A copy of this candle as the whole of `[start, end)` so far (the first part of a longer candle)."""
        return Candle(
            start, end, self.open, self.high, self.low, self.close, self.volume, self.quote_volume, self.trades
        )

    def merge(self, later: Candle) -> None:
        """Fold in a candle of later trades."""
        self._fold(later.high, later.low, later.close, later.volume, later.quote_volume, later.trades)

    def add(self, trade: TradeExecuted) -> None:
        """Fold in a later trade (of this candle's span)."""
        price = trade.price
        self._fold(price, price, price, trade.quantity, trade.quote_quantity, 1)

    def _fold(self, high: int, low: int, close: int, volume: int, quote_volume: int, trades: int) -> None:
        """The fold: open kept, high and low widened, close replaced, volumes and count added."""
        if high > self.high:  # noqa: PLR1730 (the writer's hot path: a comparison costs less than a call)
            self.high = high
        if low < self.low:  # noqa: PLR1730
            self.low = low
        self.close = close
        self.volume += volume
        self.quote_volume += quote_volume
        self.trades += trades

    def kline(self, market: Market) -> Kline:
        """The candle in `market`'s decimals."""
        return Kline(
            start=self.start,
            end=self.end,
            open=market.price(self.open),
            high=market.price(self.high),
            low=market.price(self.low),
            close=market.price(self.close),
            volume=market.quantity(self.volume),
            quote_volume=market.quote.amount(self.quote_volume),
            trades=self.trades,
        )


def ticker_window(now: int) -> tuple[int, int]:
    """The first and the last minute start (both included) of the 24-hour ticker at `now`."""
    last = minute_start(now)
    return last - TICKER_WINDOW_US + MINUTE_US, last


def change_fraction(first: Decimal, last: Decimal) -> Decimal:
    """`(last - first) / first`, exactly, rounded half to even at `PERCENT_PLACES` places (0 is never "-0")."""
    scaled = round((Fraction(last) - Fraction(first)) / Fraction(first) * 10**PERCENT_PLACES)
    return Decimal(scaled).scaleb(-PERCENT_PLACES)


@dataclass(frozen=True, slots=True)
class Ticker:
    """24-hour statistics of one market, in decimals (see the module docstring for the rule)."""

    symbol: str
    first_price: Decimal
    last_price: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    quote_volume: Decimal
    trades: int

    @property
    def price_change(self) -> Decimal:
        """Last price minus first price, exactly."""
        return EXACT.subtract(self.last_price, self.first_price)

    @property
    def price_change_fraction(self) -> Decimal:
        """The change as a fraction of the first price (`change_fraction`'s rounding)."""
        return change_fraction(self.first_price, self.last_price)


def ticker(market: Market, minutes: Mapping[int, Candle], now: int) -> Ticker | None:
    """The ticker at `now` from 1-minute candles keyed by start (those outside the window are ignored)."""
    first, last = ticker_window(now)
    inside = sorted(start for start in minutes if first <= start <= last)
    if not inside:
        return None
    total = minutes[inside[0]].spanning(first, last + MINUTE_US)
    for start in inside[1:]:
        total.merge(minutes[start])
    stats = total.kline(market)
    return Ticker(
        symbol=market.symbol,
        first_price=stats.open,
        last_price=stats.close,
        high=stats.high,
        low=stats.low,
        volume=stats.volume,
        quote_volume=stats.quote_volume,
        trades=stats.trades,
    )
