"""REST's tickers and klines (SQL over stored minutes) against the live feed's (Python), at driven times.

Both sides take their rules from `exchange.marketdata`; these tests commit known trades
through the writer, then ask both at chosen moments, among them each microsecond on
either side of a minute leaving the 24-hour window, and require the same text.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import fields

from exchange.demo import BTC_USDC
from exchange.engine.events import TradeExecuted
from exchange.marketdata import DAY_US, INTERVALS, MINUTE_US, Ticker, minute_start
from exchange.persistence.database import create_engine
from exchange.persistence.queries import Queries
from exchange.persistence.writer import Writer
from exchange.streams.market import LiveCandles
from tests.persistence.test_klines import MONDAY, Trades, listing


def text(ticker: Ticker | None) -> tuple[str, ...] | None:
    """Every field as text, so that `150.00` and `150.0` differ."""
    return None if ticker is None else tuple(str(getattr(ticker, f.name)) for f in fields(ticker))


def random_trades(seed: int) -> list[TradeExecuted]:
    """About 27 hours of BTC/USDC trades, bunched in some minutes and sparse in others."""
    rng = random.Random(seed)
    t = Trades()
    ts = MONDAY
    trades = []
    while ts < MONDAY + DAY_US + 3 * 3600 * 1_000_000:
        ts += rng.choice((1, 7_000_000, MINUTE_US, 13 * MINUTE_US, 97 * MINUTE_US))
        trades.append(t(BTC_USDC.symbol, rng.randrange(1, 100_000), rng.randrange(1, 1000), ts))
    return trades


def test_rest_and_live_tickers_agree_across_the_window_edge(database_url: str) -> None:
    trades = random_trades(5)
    edges = sorted({minute_start(t.ts) + DAY_US for t in trades})  # when each traded minute leaves the window
    rng = random.Random(6)
    moments = sorted(
        {edge + d for edge in rng.sample(edges, 40) for d in (-1, 0, 1)}
        | {t.ts for t in rng.sample(trades, 20)}
        | {trades[0].ts - 1, trades[-1].ts + DAY_US}
    )

    async def both() -> tuple[list[Ticker | None], list[Ticker | None]]:
        """At each moment, commit and stream the trades made by then; then ask REST and the live candles."""
        db = create_engine(database_url)
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit([listing()])
            queries = await Queries.open(db)
            live = LiveCandles(BTC_USDC)
            answered, streamed = [], []
            done = 0
            for now in moments:
                made = [t for t in trades[done:] if t.ts <= now]
                done += len(made)
                for n in range(0, len(made), 5):
                    await writer.commit([made[n : n + 5]])
                for t in made:
                    live.add(t)
                found = await queries.tickers(now, BTC_USDC.symbol)
                answered.append(found[0] if found else None)
                live.expire(now)
                streamed.append(live.ticker(now))
            await writer.close()
            return answered, streamed
        finally:
            await db.dispose()

    answered, streamed = asyncio.run(both())
    assert [text(t) for t in answered] == [text(t) for t in streamed]
    assert answered[0] is None and answered[-1] is None
    assert sum(t is not None and t.trades > 1 for t in answered) > 20  # the windows held real statistics
    dropped = [now for now, before, after in zip(moments[1:], answered, answered[1:], strict=False) if before != after]
    assert any(now % MINUTE_US == 0 for now in dropped)  # some minute left the window exactly at its edge


def test_rest_kline_bounds_are_the_modules(database_url: str) -> None:
    trades = random_trades(7)

    async def main() -> dict[str, list[tuple[int, int, int]]]:
        db = create_engine(database_url)
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit([listing(), trades])
            await writer.close()
            queries = await Queries.open(db)
            found = {}
            for name in INTERVALS:
                klines = await queries.klines(BTC_USDC.symbol, name, 0)
                found[name] = [(k.start, k.end, k.trades) for k in klines]
            return found
        finally:
            await db.dispose()

    for name, klines in asyncio.run(main()).items():
        expected: dict[tuple[int, int], int] = {}
        for t in trades:
            bounds = INTERVALS[name].bounds(t.ts)
            expected[bounds] = expected.get(bounds, 0) + 1
        assert klines == [(start, end, n) for (start, end), n in sorted(expected.items())], name
    assert len(trades) > 50
