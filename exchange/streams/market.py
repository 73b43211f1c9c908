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
- `LiveCandles` keeps, per market, the 1-minute candles of the ticker's window and the
  open candle of every kline interval. Bounds, the fold and the ticker are the rules of
  `exchange.marketdata`, the ones the writer and REST `/klines` and `/ticker` use, so
  the `ticker.` stream and REST `/ticker` agree at any moment. It is seeded from
  `candles_1m` with the id of the last trade those rows include, and then skips any
  trade at or below that id, so no trade counts twice or never.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sortedcontainers import SortedDict

from exchange.engine.events import DepthChanged, TradeExecuted
from exchange.engine.numbers import Market
from exchange.marketdata import INTERVALS, Candle, Ticker, ticker, ticker_window


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


class LiveCandles:
    """One market's last 24 hours of minutes and the open candle of every interval."""

    def __init__(self, market: Market, last_trade_id: int = 0) -> None:
        self.market = market
        self.last_trade_id = last_trade_id
        self.minutes: dict[int, Candle] = {}
        self.candles: dict[str, Candle | None] = dict.fromkeys(INTERVALS)
        self.dirty: set[str] = set()

    def seed_minute(self, minute: Candle) -> None:
        """Fold one stored minute (in engine units) into the minutes and open candles it belongs to."""
        self._fold(minute, now=minute.start)

    def add(self, trade: TradeExecuted) -> list[tuple[str, Candle]]:
        """Fold a committed trade in; returns the (interval, candle) pairs it closed (a trade past their end)."""
        if trade.id <= self.last_trade_id:
            return []
        self.last_trade_id = trade.id
        return self._fold(Candle.of_trade(trade), now=trade.ts)

    def _fold(self, part: Candle, *, now: int) -> list[tuple[str, Candle]]:
        closed = self.expire(now)
        minute = self.minutes.get(part.start)
        if minute is None:
            self.minutes[part.start] = part.spanning(part.start, part.end)
        else:
            minute.merge(part)
        for interval in self.candles:
            candle = self.candles[interval]
            if candle is None:
                self.candles[interval] = part.spanning(*INTERVALS[interval].bounds(part.start))
            else:
                candle.merge(part)
            self.dirty.add(interval)
        return closed

    def expire(self, now: int) -> list[tuple[str, Candle]]:
        """Close the candles that ended by `now` and forget minutes before the ticker's window; return the closed."""
        closed: list[tuple[str, Candle]] = []
        for interval, candle in self.candles.items():
            if candle is not None and candle.end <= now:
                closed.append((interval, candle))
                self.candles[interval] = None
                self.dirty.discard(interval)
        first, _ = ticker_window(now)
        for start in [start for start in self.minutes if start < first]:
            del self.minutes[start]
        return closed

    def ticker(self, now: int) -> Ticker | None:
        """The 24h ticker at `now` over the kept minutes (None when nothing traded in its window)."""
        return ticker(self.market, self.minutes, now)
