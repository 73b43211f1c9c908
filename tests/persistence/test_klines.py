"""Klines from known trades: exact candles, half-open bucket edges, markets kept apart."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import create_async_engine

from exchange.demo import ASSETS, BTC_USDC, ETH_USDC, MARKETS
from exchange.engine.events import AssetAdded, Event, MarketAdded, TradeExecuted
from exchange.persistence.database import create_engine
from exchange.persistence.queries import INTERVALS, Kline, Queries
from exchange.persistence.timestamps import to_datetime, to_micros
from exchange.persistence.writer import Writer
from tests.engine import builders

MONDAY = to_micros(datetime(2026, 1, 5, tzinfo=UTC))
MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class Trades:
    """Builds TradeExecuted events with increasing ids (prices in ticks, quantities in steps)."""

    def __init__(self) -> None:
        self.next_id = 1

    def __call__(self, symbol: str, price: int, steps: int, ts: int) -> TradeExecuted:
        market = BTC_USDC if symbol == BTC_USDC.symbol else ETH_USDC
        trade = builders.trade(market, self.next_id, price, steps, ts)
        self.next_id += 1
        return trade


def listing() -> list[Event]:
    return [
        *(AssetAdded(asset=a, ts=0) for a in ASSETS),
        *(MarketAdded(market=m, ts=0) for m in MARKETS),
    ]


def klines_after(
    url: str, batches: Sequence[Sequence[Event]], asks: Sequence[tuple[str, str, int, int | None]]
) -> list[list[Kline]]:
    """Commit `batches` (each one command's events), then answer each (symbol, interval, start, end)."""

    async def main() -> list[list[Kline]]:
        db = create_engine(url)
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit([listing()])
            for batch in batches:
                await writer.commit([batch])
            await writer.close()
            queries = await Queries.open(db)
            return [await queries.klines(*ask) for ask in asks]
        finally:
            await db.dispose()

    return asyncio.run(main())


def kline(start: int, length: int, prices: Sequence[str], volume: str, trades: int) -> Kline:
    """The expected kline: open, high, low, close given as decimal strings."""
    o, h, lo, c = (Decimal(p) for p in prices)
    v = Decimal(volume)
    return Kline(start, start + length, o, h, lo, c, v, Decimal(0), trades)


def same(got: Sequence[Kline], want: Sequence[Kline]) -> None:
    """Equal but for quote volume, which is checked separately."""
    assert [(k.start, k.end, k.open, k.high, k.low, k.close, k.volume, k.trades) for k in got] == [
        (k.start, k.end, k.open, k.high, k.low, k.close, k.volume, k.trades) for k in want
    ]


def test_known_trades_give_exact_candles_at_the_edges(database_url: str) -> None:
    t = Trades()
    btc = BTC_USDC.symbol
    batches = [
        [t(btc, 1_000, 100_000, MONDAY)],  # exactly on every edge: 100.0 x 1 BTC
        [t(btc, 1_050, 200_000, MONDAY + 5 * MINUTE - 1), t(ETH_USDC.symbol, 500, 10_000, MONDAY + MINUTE)],
        [t(btc, 900, 100_000, MONDAY + 5 * MINUTE)],  # opens the second 5m kline, not the first
        [t(btc, 1_200, 50_000, MONDAY + HOUR)],
        [t(btc, 1_100, 50_000, MONDAY + 5 * MINUTE + 30_000_000)],  # same minute as the third, later
    ]
    one_m, five_m, one_h, window, eth = klines_after(
        database_url,
        batches,
        [
            (btc, "1m", MONDAY, None),
            (btc, "5m", MONDAY, None),
            (btc, "1h", MONDAY - HOUR, MONDAY + 2 * HOUR),
            (btc, "5m", MONDAY + 5 * MINUTE, MONDAY + HOUR),  # half-open: the 1h edge is excluded
            (ETH_USDC.symbol, "5m", MONDAY - DAY, None),
        ],
    )
    same(
        one_m,
        [
            kline(MONDAY, MINUTE, ("100", "100", "100", "100"), "1", 1),
            kline(MONDAY + 4 * MINUTE, MINUTE, ("105", "105", "105", "105"), "2", 1),
            kline(MONDAY + 5 * MINUTE, MINUTE, ("90", "110", "90", "110"), "1.5", 2),
            kline(MONDAY + HOUR, MINUTE, ("120", "120", "120", "120"), "0.5", 1),
        ],
    )
    same(
        five_m,
        [
            kline(MONDAY, 5 * MINUTE, ("100", "105", "100", "105"), "3", 2),
            kline(MONDAY + 5 * MINUTE, 5 * MINUTE, ("90", "110", "90", "110"), "1.5", 2),
            kline(MONDAY + HOUR, 5 * MINUTE, ("120", "120", "120", "120"), "0.5", 1),
        ],
    )
    same(
        one_h,
        [
            kline(MONDAY, HOUR, ("100", "110", "90", "110"), "4.5", 4),
            kline(MONDAY + HOUR, HOUR, ("120", "120", "120", "120"), "0.5", 1),
        ],
    )
    same(window, [kline(MONDAY + 5 * MINUTE, 5 * MINUTE, ("90", "110", "90", "110"), "1.5", 2)])
    same(eth, [kline(MONDAY, 5 * MINUTE, ("5", "5", "5", "5"), "1", 1)])
    assert [k.quote_volume for k in five_m] == [Decimal(310), Decimal(145), Decimal(60)]
    assert eth[0].quote_volume == Decimal(5)


def test_weeks_start_on_monday_and_months_on_the_first(database_url: str) -> None:
    t = Trades()
    btc = BTC_USDC.symbol
    february = to_micros(datetime(2026, 2, 1, tzinfo=UTC))
    batches = [
        [t(btc, 10, 100_000, MONDAY - 1)],  # Sunday 23:59:59.999999: the week before, January
        [t(btc, 20, 100_000, MONDAY)],
        [t(btc, 30, 100_000, february - 1)],  # still January, in the week of Monday January 26
        [t(btc, 40, 100_000, february)],
    ]
    weeks, months, days = klines_after(
        database_url,
        batches,
        [(btc, "1w", 0, None), (btc, "1month", 0, None), (btc, "3d", MONDAY - 7 * DAY, None)],
    )
    week = 7 * DAY
    january = to_micros(datetime(2026, 1, 1, tzinfo=UTC))
    march = to_micros(datetime(2026, 3, 1, tzinfo=UTC))
    monday_26 = MONDAY + 3 * week
    assert [(k.start, k.end, k.open, k.close, k.trades) for k in weeks] == [
        (MONDAY - week, MONDAY, Decimal("1"), Decimal("1"), 1),
        (MONDAY, MONDAY + week, Decimal("2"), Decimal("2"), 1),
        (monday_26, monday_26 + week, Decimal("3"), Decimal("4"), 2),
    ]
    assert [(k.start, k.end, k.open, k.high, k.low, k.close, k.trades) for k in months] == [
        (january, february, Decimal("1"), Decimal("3"), Decimal("1"), Decimal("3"), 3),
        (february, march, Decimal("4"), Decimal("4"), Decimal("4"), Decimal("4"), 1),
    ]
    assert all(k.start % (3 * DAY) == 0 and k.end - k.start == 3 * DAY for k in days)  # aligned on the epoch


def reference(
    trades: Sequence[TradeExecuted], start_of: Callable[[int], int]
) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, int]]:
    """Klines computed in Python straight from the trades: (start, open, high, low, close, count)."""
    buckets: dict[int, list[TradeExecuted]] = {}
    for trade in sorted(trades, key=lambda t: t.id):
        buckets.setdefault(start_of(trade.ts), []).append(trade)
    price = BTC_USDC.price
    return [
        (
            start,
            price(group[0].price),
            price(max(t.price for t in group)),
            price(min(t.price for t in group)),
            price(group[-1].price),
            len(group),
        )
        for start, group in sorted(buckets.items())
    ]


def _aligned(length: int, origin: int) -> Callable[[int], int]:
    return lambda ts: ts - (ts - origin) % length


def _month(ts: int) -> int:
    moment = to_datetime(ts)
    return to_micros(datetime(moment.year, moment.month, 1, tzinfo=UTC))


def test_every_interval_matches_a_python_reference(database_url: str) -> None:
    rng = random.Random(11)
    t = Trades()
    ts = MONDAY - 40 * DAY
    trades = []
    for _ in range(400):
        ts += rng.choice((1, MINUTE, 7 * MINUTE, HOUR, 9 * HOUR, 2 * DAY)) - rng.randrange(0, 2)
        trades.append(t(BTC_USDC.symbol, rng.randrange(1, 100_000), rng.randrange(1, 100), ts))
    batches = [trades[i : i + 7] for i in range(0, len(trades), 7)]
    lengths = {
        "1m": MINUTE, "3m": 3 * MINUTE, "5m": 5 * MINUTE, "15m": 15 * MINUTE, "30m": 30 * MINUTE,
        "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "6h": 6 * HOUR, "8h": 8 * HOUR, "12h": 12 * HOUR,
        "1d": DAY, "3d": 3 * DAY,
    }  # fmt: skip
    starts: dict[str, Callable[[int], int]] = {name: _aligned(n, 0) for name, n in lengths.items()}
    starts["1w"] = _aligned(7 * DAY, MONDAY)
    starts["1month"] = _month
    assert set(starts) == set(INTERVALS)
    results = klines_after(database_url, batches, [(BTC_USDC.symbol, name, 0, None) for name in starts])
    for (name, start_of), got in zip(starts.items(), results, strict=True):
        want = reference(trades, start_of)
        assert [(k.start, k.open, k.high, k.low, k.close, k.trades) for k in got] == want, name
        assert sum(k.trades for k in got) == len(trades)


def test_buckets_are_utc_whatever_the_session_time_zone(database_url: str) -> None:
    """A session in Europe/Berlin, on the day its clocks go forward, gets the same UTC days and months."""
    t = Trades()
    btc = BTC_USDC.symbol
    dst_day = to_micros(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    last_of_february = to_micros(datetime(2026, 2, 28, 23, 30, tzinfo=UTC))  # already March in Berlin

    async def main() -> tuple[list[Kline], list[Kline]]:
        db = create_async_engine(database_url, connect_args={"server_settings": {"timezone": "Europe/Berlin"}})
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit([listing(), [t(btc, 100, 1, last_of_february)], [t(btc, 100, 1, dst_day)]])
            await writer.close()
            queries = await Queries.open(db)
            return await queries.klines(btc, "1d", 0), await queries.klines(btc, "1month", 0)
        finally:
            await db.dispose()

    days, months = asyncio.run(main())
    assert [(to_datetime(k.start), k.end - k.start) for k in days] == [
        (datetime(2026, 2, 28, tzinfo=UTC), DAY),
        (datetime(2026, 3, 29, tzinfo=UTC), DAY),
    ]
    assert [(to_datetime(k.start), to_datetime(k.end)) for k in months] == [
        (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    ]
