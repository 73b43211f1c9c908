"""The feed starts from what is stored: its live candles are seeded from `Queries.candle_seed`.

A restarted process must stream the same 24h ticker that REST answers from the same
minutes, and must not count a committed trade twice: the seed's last trade id makes
the feed skip a trade the seeded minutes already hold.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from exchange.demo import ASSETS, BTC_USDC, MARKETS
from exchange.engine.commands import AddAsset, AddMarket, Command, Deposit
from exchange.engine.engine import Engine
from exchange.engine.events import TradeExecuted
from exchange.engine.orders import Side
from exchange.persistence.database import create_engine, upgrade
from exchange.persistence.queries import Queries
from exchange.persistence.writer import Writer
from exchange.streams.bus import InMemoryBus
from exchange.streams.feed import Feed
from exchange.streams.hub import Hub
from tests.engine.builders import priced
from tests.support.databases import scratch

MINUTE = 60_000_000


def trading(start: int) -> list[Command]:
    """Two trades in one minute and one in a later minute, all within the last hour before now."""
    return [
        *(AddAsset(asset=a, ts=start) for a in ASSETS),
        *(AddMarket(market=m, ts=start) for m in MARKETS),
        Deposit(account_id=1, asset="BTC", amount=10**8, transfer_id="m", ts=start),
        Deposit(account_id=2, asset="USDC", amount=10**12, transfer_id="t", ts=start),
        priced(BTC_USDC, 1, Side.ASK, "100", "0.25", start + 1),
        priced(BTC_USDC, 1, Side.ASK, "101", "0.5", start + 2),
        priced(BTC_USDC, 2, Side.BID, "101", "0.5", start + 3),
        priced(BTC_USDC, 2, Side.BID, "102", "0.1", start + 5 * MINUTE),
    ]


def test_the_seeded_ticker_is_the_rest_ticker_and_a_seeded_trade_is_not_counted_again() -> None:
    now = time.time_ns() // 1000
    start = now - now % MINUTE - 30 * MINUTE
    engine = Engine()
    results = [engine.handle(c) for c in trading(start)]
    trades = [e for events in results for e in events if isinstance(e, TradeExecuted)]

    async def main(database_url: str) -> tuple[Any, ...]:
        db = create_engine(database_url)
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit(results)
            await writer.close()
            queries = await Queries.open(db)

            async def query(books: Any) -> Any:
                return engine.answer(books)

            feed = Feed(Hub(), InMemoryBus(), query, queries)
            await feed.start()
            try:
                live = feed.candles[BTC_USDC.symbol]
                seeded = live.ticker(now)
                replayed = live.add(trades[-1])
                return (
                    live.last_trade_id,
                    seeded,
                    live.ticker(now),
                    replayed,
                    await queries.tickers(now, BTC_USDC.symbol),
                )
            finally:
                await feed.stop()
        finally:
            await db.dispose()

    with scratch("exchange_feed_seed") as url:
        upgrade(url)
        last_id, seeded, after_replay, replayed, rest = asyncio.run(main(url))
    assert len(trades) == 3 and last_id == trades[-1].id == 3
    assert seeded is not None and seeded.trades == 3 and seeded.volume == Decimal("0.6")
    assert [seeded] == rest
    assert (replayed, after_replay) == ([], seeded)
