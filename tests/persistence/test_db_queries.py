"""History queries over what the writer committed from a small, known engine session."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any

from exchange.demo import ASSETS, BTC_USDC, ETH_USDC, MARKETS
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Command, Deposit, Withdraw
from exchange.engine.engine import Engine
from exchange.engine.orders import Side
from exchange.persistence.database import create_engine
from exchange.persistence.queries import Queries
from exchange.persistence.writer import Writer
from tests.engine.builders import priced

T0 = 1_767_571_200_000_000  # 2026-01-05T00:00:00Z
MINUTE = 60_000_000
MAKER, TAKER = 1, 2
Answers = tuple[Any, ...]


def session() -> list[Command]:
    """Two asks rest; a bid takes both at two prices; another ask rests and is cancelled."""
    return [
        *(AddAsset(asset=a, ts=T0) for a in ASSETS),
        *(AddMarket(market=m, ts=T0) for m in MARKETS),
        Deposit(account_id=MAKER, asset="BTC", amount=10**8, transfer_id="m", ts=T0),
        Deposit(account_id=TAKER, asset="USDC", amount=10**12, transfer_id="t", ts=T0),
        priced(BTC_USDC, MAKER, Side.ASK, "100", "0.25", T0 + 1),
        priced(BTC_USDC, MAKER, Side.ASK, "101", "0.5", T0 + 2),
        priced(BTC_USDC, TAKER, Side.BID, "101", "0.5", T0 + MINUTE),
        priced(BTC_USDC, MAKER, Side.ASK, "110", "0.1", T0 + 2 * MINUTE, client_id=7),
        CancelOrder(account_id=MAKER, symbol=BTC_USDC.symbol, client_id=7, ts=T0 + 3 * MINUTE),
    ]


def answers(database_url: str, commands: Iterable[Command], ask: Callable[[Queries], Awaitable[Answers]]) -> Answers:
    """Commit the events of `commands` (through a fresh engine) in one batch, then `ask` the queries."""

    async def main() -> Answers:
        db = create_engine(database_url)
        try:
            writer = Writer(db)
            await writer.claim()
            engine = Engine()
            await writer.commit([engine.handle(c) for c in commands])
            await writer.close()
            return await ask(await Queries.open(db))
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_trades_tickers_orders_and_fills(database_url: str) -> None:
    async def ask(q: Queries) -> Answers:
        return (
            await q.recent_trades(BTC_USDC.symbol),
            await q.recent_trades(BTC_USDC.symbol, limit=1, offset=1),
            await q.tickers(T0 + 10 * MINUTE),
            await q.tickers(T0 + 24 * 60 * MINUTE + MINUTE),
            await q.order_history(MAKER),
            await q.order_history(MAKER, start=T0 + 2, end=T0 + 2 * MINUTE, limit=5),
            await q.fill_history(MAKER),
            await q.fill_history(TAKER, symbol=ETH_USDC.symbol),
            await q.fill_history(TAKER, limit=1),
        )

    trades, second, tickers, stale, orders, window, maker_fills, none, taker_fills = answers(
        database_url, session(), ask
    )
    assert [(t.id, t.price, t.quantity, t.quote_quantity, t.is_buyer_maker, t.ts) for t in trades] == [
        (2, Decimal("101"), Decimal("0.25"), Decimal("25.25"), False, T0 + MINUTE),
        (1, Decimal("100"), Decimal("0.25"), Decimal("25"), False, T0 + MINUTE),
    ]
    assert [t.id for t in second] == [1]
    (ticker,) = tickers
    assert (ticker.symbol, ticker.first_price, ticker.last_price, ticker.high, ticker.low) == (
        "BTC_USDC",
        Decimal("100"),
        Decimal("101"),
        Decimal("101"),
        Decimal("100"),
    )
    assert (ticker.volume, ticker.quote_volume, ticker.trades) == (Decimal("0.5"), Decimal("50.25"), 2)
    assert stale == []
    assert [(o.id, o.status, o.executed_quantity, o.client_id) for o in orders] == [
        (4, "Cancelled", Decimal(0), 7),
        (2, "PartiallyFilled", Decimal("0.25"), None),
        (1, "Filled", Decimal("0.25"), None),
    ]
    assert [o.id for o in window] == [2]
    assert orders[0].created_at == T0 + 2 * MINUTE and orders[0].updated_at == T0 + 3 * MINUTE
    assert [(f.trade_id, f.order_id, f.side, f.is_maker, f.fee_asset, f.fee) for f in maker_fills] == [
        (2, 2, "Ask", True, "USDC", Decimal("0.00505")),
        (1, 1, "Ask", True, "USDC", Decimal("0.005")),
    ]
    assert none == []
    assert [(f.trade_id, f.order_id, f.side, f.is_maker, f.fee_asset) for f in taker_fills] == [
        (2, 3, "Bid", False, "BTC")
    ]


def test_transfer_history(database_url: str) -> None:
    commands: list[Command] = [
        *(AddAsset(asset=a, ts=T0) for a in ASSETS),
        Deposit(account_id=MAKER, asset="BTC", amount=10**8, transfer_id="d1", ts=T0),
        Deposit(account_id=MAKER, asset="USDC", amount=25 * 10**5, transfer_id="d2", ts=T0 + MINUTE),
        Deposit(account_id=TAKER, asset="BTC", amount=1, transfer_id="other", ts=T0 + MINUTE),
        Withdraw(account_id=MAKER, asset="BTC", amount=10**7, transfer_id="w1", ts=T0 + 2 * MINUTE),
    ]

    async def ask(q: Queries) -> Answers:
        return (
            await q.transfer_history(MAKER, kind="deposit"),
            await q.transfer_history(MAKER, kind="deposit", limit=1, offset=1),
            await q.transfer_history(MAKER, kind="deposit", start=T0 + 1, end=T0 + 2 * MINUTE),
            await q.transfer_history(MAKER, kind="withdrawal"),
            await q.transfer_history(TAKER, kind="withdrawal"),
        )

    deposits, paged, window, withdrawals, none = answers(database_url, commands, ask)
    assert [(t.transfer_id, t.kind, t.account_id, t.asset, t.amount, t.ts) for t in deposits] == [
        ("d2", "deposit", MAKER, "USDC", Decimal("2.5"), T0 + MINUTE),
        ("d1", "deposit", MAKER, "BTC", Decimal("1"), T0),
    ]
    assert [t.transfer_id for t in paged] == ["d1"]
    assert [t.transfer_id for t in window] == ["d2"]
    assert [(t.transfer_id, t.kind, t.amount) for t in withdrawals] == [("w1", "withdrawal", Decimal("0.1"))]
    assert none == []


def test_the_candle_seed_is_the_stored_minutes_and_last_trade_ids_and_listing_times_are_the_markets(
    database_url: str,
) -> None:
    async def ask(q: Queries) -> Answers:
        return (
            await q.candle_seed(T0),
            await q.candle_seed(T0 + 2 * MINUTE),
            await q.klines(BTC_USDC.symbol, "1m", T0),
            await q.listing_times(),
        )

    seed, later, klines, listed = answers(database_url, session(), ask)
    assert seed.last_trade_ids == later.last_trade_ids == {BTC_USDC.symbol: 2}
    assert seed.minutes == {BTC_USDC.symbol: klines}
    assert [(k.start, k.end, k.open, k.close, k.volume, k.trades) for k in klines] == [
        (T0 + MINUTE, T0 + 2 * MINUTE, Decimal("100"), Decimal("101"), Decimal("0.5"), 2)
    ]
    assert later.minutes == {}
    assert listed == {market.symbol: T0 for market in MARKETS}
