"""Live market state the streams derive from committed events: book tops, depth windows, candles, tickers.

Everything here is plain synchronous state in the engine's integer units (ticks, steps,
quote atoms), updated by the feed one committed event at a time, so it is exactly
what the database holds; the wire module turns it into decimals when a frame is made.

- `LiveBook` keeps every level's total (seeded from the engine's book at a committed
  point, then the `DepthChanged` diffs after it), which gives the best bid and ask
  for `bookTicker`.
- `PendingDepth` merges the diffs of one aggregation window (`depth.200ms` ...): the
  last total of each level touched, `U` the first update and `u` the last, so the
  aggregated stream stays contiguous on the same sequence as the realtime one.
- `LiveCandles` keeps, per market, one-minute buckets of the last 24 hours (the ticker
  is their sum, at the same minute granularity as REST `/ticker`) and the open candle
  of every kline interval, on the same boundaries as REST `/klines`
  (`exchange.persistence.queries`: epoch-aligned, weeks from Monday, calendar months).
  It is seeded from `candles_1m` with the id of the last trade those rows include,
  and then skips any trade at or below that id, so no trade counts twice or never.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sortedcontainers import SortedDict

from exchange.engine.events import DepthChanged, TradeExecuted
from exchange.engine.numbers import Market
from exchange.persistence.queries import INTERVAL_SECONDS, INTERVALS, Kline, Ticker

US = 1_000_000
MINUTE_US = 60 * US
DAY_US = 86_400 * US
MONDAY_ORIGIN_US = 4 * DAY_US


def candle_bounds(interval: str, ts: int) -> tuple[int, int]:
    """`[start, end)` in µs of the `interval` candle holding `ts`, on REST `/klines`' boundaries."""
    seconds = INTERVAL_SECONDS[interval]
    if seconds is None:
        moment = datetime.fromtimestamp(ts // US, UTC)
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + timedelta(days=32)).replace(day=1)
        return int(first.timestamp()) * US, int(following.timestamp()) * US
    length = seconds * US
    origin = MONDAY_ORIGIN_US if interval == "1w" else 0
    start = ts - (ts - origin) % length
    return start, start + length


class LiveBook:
    """Every level's total quantity of one market, and its depth sequence."""

    def __init__(self, sequence: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.sequence = sequence
        self.bids: SortedDict[int, int] = SortedDict(bids)
        self.asks: SortedDict[int, int] = SortedDict(asks)
        self.top = self._top()

    def apply(self, event: DepthChanged) -> bool:
        """Apply a diff after the seed; True when the best bid or ask (price or quantity) changed."""
        for side, levels in ((self.bids, event.bids), (self.asks, event.asks)):
            for price, quantity in levels:
                if quantity:
                    side[price] = quantity
                else:
                    side.pop(price, None)
        self.sequence = event.sequence
        top = self._top()
        changed = top != self.top
        self.top = top
        return changed

    def _top(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        bid = self.bids.peekitem(-1) if self.bids else None
        ask = self.asks.peekitem(0) if self.asks else None
        return bid, ask


@dataclass(slots=True)
class PendingDepth:
    """The merged diffs of one aggregation window of one market."""

    first: int
    last: int = 0
    ts: int = 0
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def add(self, event: DepthChanged) -> None:
        """Merge one diff: later totals of a level replace earlier ones."""
        self.bids.update(event.bids)
        self.asks.update(event.asks)
        self.last = event.sequence
        self.ts = event.ts


@dataclass(slots=True)
class Bucket:
    """Open, high, low, close (ticks), volume (steps), quote volume (atoms) and trade count of a span."""

    start: int
    end: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote: int
    trades: int

    def empty(self, start: int, end: int) -> Bucket:
        """A bucket for `[start, end)` that opens at this one's open, with nothing in it yet."""
        return Bucket(start, end, self.open, self.open, self.open, self.open, 0, 0, 0)

    def merge(self, part: Bucket) -> None:
        """Fold a later, finer bucket (a trade or a minute) in."""
        self.high = max(self.high, part.high)
        self.low = min(self.low, part.low)
        self.close = part.close
        self.volume += part.volume
        self.quote += part.quote
        self.trades += part.trades

    def kline(self, market: Market) -> Kline:
        """The bucket as a `Kline` in decimals."""
        return Kline(
            start=self.start,
            end=self.end,
            open=market.price(self.open),
            high=market.price(self.high),
            low=market.price(self.low),
            close=market.price(self.close),
            volume=market.quantity(self.volume),
            quote_volume=market.quote.amount(self.quote),
            trades=self.trades,
        )


class LiveCandles:
    """One market's last 24 hours of minutes and the open candle of every interval."""

    def __init__(self, market: Market, last_trade_id: int = 0) -> None:
        self.market = market
        self.last_trade_id = last_trade_id
        self.minutes: dict[int, Bucket] = {}
        self.candles: dict[str, Bucket | None] = dict.fromkeys(INTERVALS)
        self.dirty: set[str] = set()
        self.ticker_dirty = False

    def seed_minute(self, minute: Bucket) -> None:
        """Fold one stored minute (in engine units) into the minutes and open candles it belongs to."""
        self._fold(minute.start, minute, now=minute.start)

    def add(self, trade: TradeExecuted) -> list[tuple[str, Bucket]]:
        """Fold a committed trade in; returns the (interval, candle) pairs it closed (a trade past their end)."""
        if trade.id <= self.last_trade_id:
            return []
        self.last_trade_id = trade.id
        one = Bucket(0, 0, trade.price, trade.price, trade.price, trade.price, trade.quantity, trade.quote_quantity, 1)
        return self._fold(trade.ts, one, now=trade.ts)

    def _fold(self, ts: int, part: Bucket, *, now: int) -> list[tuple[str, Bucket]]:
        closed = self.expire(now)
        minute_start = ts - ts % MINUTE_US
        minute = self.minutes.get(minute_start)
        if minute is None:
            minute = self.minutes[minute_start] = part.empty(minute_start, minute_start + MINUTE_US)
        minute.merge(part)
        for interval in self.candles:
            candle = self.candles[interval]
            if candle is None:
                candle = self.candles[interval] = part.empty(*candle_bounds(interval, ts))
            candle.merge(part)
            self.dirty.add(interval)
        self.ticker_dirty = True
        return closed

    def expire(self, now: int) -> list[tuple[str, Bucket]]:
        """Close the candles that ended by `now` and forget minutes older than 24 hours; return the closed."""
        closed: list[tuple[str, Bucket]] = []
        for interval, candle in self.candles.items():
            if candle is not None and candle.end <= now:
                closed.append((interval, candle))
                self.candles[interval] = None
                self.dirty.discard(interval)
        horizon = now - now % MINUTE_US - DAY_US
        stale = [start for start in self.minutes if start <= horizon]
        for start in stale:
            del self.minutes[start]
        if stale:
            self.ticker_dirty = True
        return closed

    def ticker(self) -> Ticker | None:
        """24h statistics over the kept minutes (None when nothing traded in them)."""
        if not self.minutes:
            return None
        ordered = [self.minutes[start] for start in sorted(self.minutes)]
        market = self.market
        return Ticker(
            symbol=market.symbol,
            first_price=market.price(ordered[0].open),
            last_price=market.price(ordered[-1].close),
            high=market.price(max(b.high for b in ordered)),
            low=market.price(min(b.low for b in ordered)),
            volume=market.quantity(sum(b.volume for b in ordered)),
            quote_volume=market.quote.amount(sum(b.quote for b in ordered)),
            trades=sum(b.trades for b in ordered),
        )
