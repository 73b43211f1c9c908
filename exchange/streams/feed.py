"""The feed: committed events from the bus, turned into frames on the hub's topics.

One task consumes one bus subscription. The bus is fed by the engine actor only after
a batch has committed, so nothing reaches a socket before it is durable. For each
event, in commit order:

- `DepthChanged` -> `depth.<s>` (U = u = the event's sequence, the sequence REST
  `/depth` returns as `lastUpdateId`), merged into the open `depth.<w>.<s>` windows,
  and `bookTicker.<s>` when the best bid or ask changed;
- `TradeExecuted` -> `trade.<s>`, and folded into the live candles and ticker;
- order events -> `account.orderUpdate` and `account.orderUpdate.<s>` of the owner;
  `BalanceChanged` -> `account.balanceUpdate` of the owner;
- `AssetAdded` / `MarketAdded` -> the catalog, so new markets stream at once.

A frame is encoded only when its topic has a subscriber, and once whatever their
number. Work on a large batch is cut into slices of at most `slice_seconds`, with a
yield to the event loop between slices, so a burst never stalls the loop (the
sockets' writers and the HTTP routes run in between).

Timers: every aggregation window flushes its merged diffs; once a second the feed
publishes each subscribed market's ticker and every changed open candle, and the
final (`X: true`) frame of candles that ended.

Startup order makes the seeds exact: subscribe to the bus first, then read the books
through `actor.query` (at a committed point; diffs at or below the seed's sequence
are skipped) and the candles from the database (trades at or below the seed's last
trade id are skipped). When the subscription breaks (it overflowed, or a gateway's
event stream from Redis had a gap) the feed does the same again: a new subscription,
then fresh seeds, so no diff is applied twice or missed; a client's depth stream then
shows a jump in `U`/`u`, and the client resyncs from REST as a Backpack client does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from exchange.engine.actor import EngineUnavailableError
from exchange.engine.events import (
    AssetAdded,
    BalanceChanged,
    DepthChanged,
    Event,
    MarketAdded,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    TradeExecuted,
)
from exchange.engine.numbers import Asset, Market
from exchange.engine.queries import Depth, GetBooks, Listings
from exchange.marketdata import DAY_US, Candle
from exchange.observability import observe_stage
from exchange.persistence.database import DatabaseUnavailableError
from exchange.persistence.queries import Queries
from exchange.protocol import decoding, streams
from exchange.streams.bus import Bus, Subscription, SubscriptionOverflow
from exchange.streams.hub import Hub
from exchange.streams.market import LiveBook, LiveCandles, PendingDepth
from exchange.streams.names import DEPTH_WINDOWS, depth_window_topic, kline_topic

log = logging.getLogger(__name__)

Query = Callable[[GetBooks], Awaitable[tuple[Listings, tuple[Depth, ...]]]]
SEED_DAYS = 32
RESYNC_RETRY = 0.5  # float-ok: seconds


def now_us() -> int:
    """The feed's clock for `E`: integer microseconds."""
    return time.time_ns() // 1000


class Feed:
    """Bus events in, frames out; see the module docstring."""

    def __init__(self, hub: Hub, bus: Bus, query: Query, queries: Queries, *, slice_seconds: float = 0.001) -> None:
        self.hub = hub
        self._bus = bus
        self._query = query
        self._queries = queries
        self._slice = slice_seconds
        self.assets: dict[str, Asset] = {}
        self.markets: dict[str, Market] = {}
        self.books: dict[str, LiveBook] = {}
        self.candles: dict[str, LiveCandles] = {}
        self.pending: dict[str, dict[str, PendingDepth]] = {window: {} for window in DEPTH_WINDOWS}
        self._tasks: list[asyncio.Task[None]] = []
        self.events = 0
        self.resyncs = 0
        self.longest_slice = 0.0

    async def start(self) -> None:
        """Subscribe, seed books and candles, and start the consumer and the timers."""
        subscription = await self._seeded()
        self._tasks.append(asyncio.create_task(self._consume(subscription), name="streams-feed"))
        for window, seconds in DEPTH_WINDOWS.items():
            self._tasks.append(asyncio.create_task(self._every(seconds, self._flush_window, window)))
        self._tasks.append(asyncio.create_task(self._every(1.0, self._tick)))

    async def stop(self) -> None:
        """Cancel the consumer and the timers."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _seeded(self) -> Subscription:
        """A new subscription, and the books and candles seeded at a point after it began."""
        subscription = self._bus.subscribe(maxsize=1_000_000)
        try:
            listings, books = await self._query(GetBooks(limit=10**9))
            self.assets = {asset.symbol: asset for asset in listings.assets}
            self.markets = {state.market.symbol: state.market for state in listings.markets}
            self.books = {book.symbol: LiveBook(book.sequence, list(book.bids), list(book.asks)) for book in books}
            await self._seed_candles()
        except BaseException:
            subscription.close()
            raise
        return subscription

    async def _resynced(self) -> Subscription:
        """Seed again after the stream broke, retrying while the engine or the database does not answer."""
        while True:
            try:
                return await self._seeded()
            except (EngineUnavailableError, DatabaseUnavailableError) as error:
                log.warning("resyncing the feed failed (%s); retrying", error)
                await asyncio.sleep(RESYNC_RETRY)

    async def _seed_candles(self) -> None:
        now = now_us()
        seed = await self._queries.candle_seed(now - SEED_DAYS * DAY_US)
        for symbol, market in self.markets.items():
            self.candles[symbol] = LiveCandles(market, seed.last_trade_ids.get(symbol, 0))
        for symbol, minutes in seed.minutes.items():
            live = self.candles.get(symbol)
            if live is not None:
                m = live.market
                for minute in minutes:
                    live.seed_minute(
                        Candle(
                            minute.start,
                            minute.end,
                            m.ticks(minute.open),
                            m.ticks(minute.high),
                            m.ticks(minute.low),
                            m.ticks(minute.close),
                            m.steps(minute.volume) if minute.volume else 0,
                            m.quote.atoms(minute.quote_volume) if minute.quote_volume else 0,
                            minute.trades,
                        )
                    )
        for live in self.candles.values():
            live.expire(now)
            live.dirty.clear()

    async def _consume(self, subscription: Subscription) -> None:
        while True:
            try:
                events = await subscription.next()
            except SubscriptionOverflow as broken:
                log.warning("the feed's event stream broke (%s); resyncing from a snapshot", broken)
                self.resyncs += 1
                subscription = await self._resynced()
                continue
            self.events += len(events)
            started = time.perf_counter()
            await self.handle(events)
            observe_stage("fanout", time.perf_counter() - started)

    async def handle(self, events: Sequence[Event]) -> None:
        """Publish the frames of committed events, yielding to the loop between slices."""
        started = time.perf_counter()
        for event in events:
            self._handle(event)
            elapsed = time.perf_counter() - started
            if elapsed >= self._slice:
                self.longest_slice = max(self.longest_slice, elapsed)
                await asyncio.sleep(0)
                started = time.perf_counter()
        self.longest_slice = max(self.longest_slice, time.perf_counter() - started)

    def _handle(self, event: Event) -> None:
        if isinstance(event, DepthChanged):
            self._depth(event)
        elif isinstance(event, TradeExecuted):
            self._trade(event)
        elif isinstance(event, OrderAccepted | OrderFilled | OrderCancelled | OrderExpired):
            self._order(event)
        elif isinstance(event, BalanceChanged):
            self._balance(event)
        elif isinstance(event, MarketAdded):
            market = event.market
            self.markets[market.symbol] = market
            self.books.setdefault(market.symbol, LiveBook(0, [], []))
            self.candles.setdefault(market.symbol, LiveCandles(market))
        elif isinstance(event, AssetAdded):
            self.assets[event.asset.symbol] = event.asset

    def _depth(self, event: DepthChanged) -> None:
        symbol = event.symbol
        book = self.books[symbol]
        if event.sequence <= book.sequence:
            return
        market = self.markets[symbol]
        hub = self.hub
        now = now_us()
        topic = f"depth.{symbol}"
        if hub.wants(topic):
            data = streams.depth_update_fields(
                market,
                first=event.sequence,
                last=event.sequence,
                bids=sorted(event.bids),
                asks=sorted(event.asks),
                engine_ts=event.ts,
                now=now,
            )
            hub.publish(topic, streams.stream_frame(topic, data))
        for window, pending in self.pending.items():
            if symbol in pending:
                pending[symbol].add(event)
            elif hub.wants(depth_window_topic(window, symbol)):
                pending[symbol] = PendingDepth(first=event.sequence)
                pending[symbol].add(event)
        if book.apply(event):
            topic = f"bookTicker.{symbol}"
            if hub.wants(topic):
                bid, ask = book.top
                data = streams.book_ticker_fields(
                    market, bid=bid, ask=ask, sequence=event.sequence, engine_ts=event.ts, now=now
                )
                hub.publish(topic, streams.stream_frame(topic, data))

    def _trade(self, event: TradeExecuted) -> None:
        symbol = event.symbol
        market = self.markets[symbol]
        topic = f"trade.{symbol}"
        if self.hub.wants(topic):
            self.hub.publish(
                topic, streams.stream_frame(topic, streams.trade_update_fields(market, event, now=now_us()))
            )
        live = self.candles[symbol]
        self._publish_closed(live, live.add(event))

    def _order(self, event: OrderAccepted | OrderFilled | OrderCancelled | OrderExpired) -> None:
        spec = event.order
        market = self.markets[spec.symbol]
        data: decoding.Json | None = None
        for name in ("account.orderUpdate", f"account.orderUpdate.{spec.symbol}"):
            topic = (name, spec.account_id)
            if self.hub.wants(topic):
                data = data or streams.order_update_fields(event, market, now=now_us())
                self.hub.publish(topic, streams.stream_frame(name, data))

    def _balance(self, event: BalanceChanged) -> None:
        topic = ("account.balanceUpdate", event.account_id)
        asset = self.assets.get(event.asset)
        if asset is not None and self.hub.wants(topic):
            data = streams.balance_update_fields(
                asset, available=event.available, locked=event.locked, engine_ts=event.ts, now=now_us()
            )
            self.hub.publish(topic, streams.stream_frame(topic[0], data))

    # -- timers --------------------------------------------------------------------

    @staticmethod
    async def _every(seconds: float, tick: Callable[..., None], *args: str) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += seconds
            await asyncio.sleep(max(0.0, due - loop.time()))
            try:
                tick(*args)
            except Exception:
                log.exception("stream timer failed")

    def _flush_window(self, window: str) -> None:
        pending, self.pending[window] = self.pending[window], {}
        now = now_us()
        for symbol, merged in pending.items():
            topic = depth_window_topic(window, symbol)
            if not self.hub.wants(topic):
                continue
            data = streams.depth_update_fields(
                self.markets[symbol],
                first=merged.first,
                last=merged.last,
                bids=sorted(merged.bids.items()),
                asks=sorted(merged.asks.items()),
                engine_ts=merged.ts,
                now=now,
            )
            self.hub.publish(topic, streams.stream_frame(topic, data))

    def _tick(self) -> None:
        now = now_us()
        for symbol, live in self.candles.items():
            self._publish_closed(live, live.expire(now))
            topic = f"ticker.{symbol}"
            if self.hub.wants(topic):
                ticker = live.ticker(now)
                if ticker is not None:
                    self.hub.publish(topic, streams.stream_frame(topic, streams.ticker_update_fields(ticker, now=now)))
            for interval in live.dirty:
                candle = live.candles[interval]
                topic = kline_topic(interval, symbol)
                if candle is not None and self.hub.wants(topic):
                    self._publish_candle(topic, live.market, candle, closed=False, now=now)
            live.dirty.clear()

    def _publish_closed(self, live: LiveCandles, closed: list[tuple[str, Candle]]) -> None:
        for interval, candle in closed:
            topic = kline_topic(interval, live.market.symbol)
            if self.hub.wants(topic):
                self._publish_candle(topic, live.market, candle, closed=True, now=now_us())

    def _publish_candle(self, topic: str, market: Market, candle: Candle, *, closed: bool, now: int) -> None:
        data = streams.kline_update_fields(market.symbol, candle.kline(market), closed=closed, now=now)
        self.hub.publish(topic, streams.stream_frame(topic, data))
