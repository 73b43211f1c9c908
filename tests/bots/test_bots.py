"""The bots against a real engine behind a real actor (the commit is an in-memory list).

The maker must hold exactly its ladder in every market after each step, never cross
itself, and survive refusals; the taker must make trades against it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest

from exchange import demo
from exchange.bots.client import InProcessClient, OrderRequest, Refused
from exchange.bots.loop import run_steps
from exchange.bots.maker import MarketMaker
from exchange.bots.run import market_maker
from exchange.bots.taker import Taker
from exchange.config import Settings
from exchange.engine import state
from exchange.engine.actor import EngineActor
from exchange.engine.commands import SetMarketHalted
from exchange.engine.engine import Engine
from exchange.engine.events import Event, TradeExecuted
from exchange.engine.numbers import Market
from exchange.engine.orders import OrderType, Side

pytestmark = pytest.mark.anyio

MAKER, TAKER = 1, 2


class Committed:
    """The commit function of the tests: remembers every committed event."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.engine = Engine()
        """The actor's engine: the tests read it only between steps, when everything is committed."""

    async def commit(self, batch: Sequence[Sequence[Event]]) -> None:
        self.events.extend(event for events in batch for event in events)

    def trades(self) -> list[TradeExecuted]:
        return [e for e in self.events if isinstance(e, TradeExecuted)]


@pytest.fixture
def committed() -> Committed:
    return Committed()


@pytest.fixture
async def actor(committed: Committed) -> AsyncIterator[EngineActor]:
    """An actor over `committed`'s engine with the demo listings, stopped after the test."""

    async def reload() -> Engine:
        raise AssertionError("no commit fails here")

    actor = EngineActor(commit=committed.commit, publish=lambda events: None, reload=reload)
    await actor.start(committed.engine)
    await demo.seed(actor, now_us=1)
    yield actor


async def maker_on(actor: EngineActor, *, levels: int, faucet: bool = True, seed: int = 7) -> MarketMaker:
    return await market_maker(InProcessClient(actor, MAKER), (), random.Random(seed), levels=levels, faucet=faucet)


async def assert_exact_ladders(committed: Committed, maker: MarketMaker, levels: int) -> None:
    for symbol in maker.markets:
        mine = await maker.client.open_orders(symbol)
        bids = [o.price for o in mine if o.side is Side.BID]
        asks = [o.price for o in mine if o.side is Side.ASK]
        assert len(bids) == len(set(bids)) == levels, symbol
        assert len(asks) == len(set(asks)) == levels, symbol
        assert max(bids) < min(asks), symbol
    assert not state.reservation_mismatches(committed.engine)


async def test_the_maker_keeps_exactly_n_levels_a_side_in_every_market_as_its_price_walks(
    committed: Committed, actor: EngineActor
) -> None:
    maker = await maker_on(actor, levels=5)
    assert set(maker.markets) == {m.symbol for m in demo.MARKETS}
    for _ in range(30):
        await maker.step()
        await assert_exact_ladders(committed, maker, 5)


async def test_the_taker_trades_against_the_maker_which_restores_its_ladder(
    committed: Committed, actor: EngineActor
) -> None:
    maker = await maker_on(actor, levels=4)
    taker_client = InProcessClient(actor, TAKER)
    taker = Taker(taker_client, maker.markets, rng=random.Random(3), faucet=True)
    await maker.step()
    for _ in range(40):
        await taker.step()
    assert len(committed.trades()) > 10
    assert all({t.maker_account_id, t.taker_account_id} == {MAKER, TAKER} for t in committed.trades())
    await maker.step()
    await assert_exact_ladders(committed, maker, 4)


async def test_the_maker_survives_refusals_and_quotes_what_it_can_pay_for(
    committed: Committed, actor: EngineActor
) -> None:
    maker = await maker_on(actor, levels=3, faucet=False)
    outcomes = await maker.quote("SOL_USDC")
    assert outcomes and all(isinstance(o, Refused) and o.code == "INSUFFICIENT_FUNDS" for o in outcomes)
    await actor.submit(SetMarketHalted(symbol="SOL_USDC", halted=True, ts=5))
    maker.faucet = True
    outcomes = await maker.quote("SOL_USDC")
    assert all(isinstance(o, Refused) and o.code == "MARKET_HALTED" for o in outcomes)
    await actor.submit(SetMarketHalted(symbol="SOL_USDC", halted=False, ts=6))
    await maker.step()
    await assert_exact_ladders(committed, maker, 3)


async def test_the_maker_steps_around_other_traders_without_taking(committed: Committed, actor: EngineActor) -> None:
    other = InProcessClient(actor, TAKER)
    await other.deposit("USDC", 10**12)
    high_bid = demo.MARKETS[0].ticks(demo.REFERENCE_PRICES["SOL_USDC"]) + 500
    await other.place([OrderRequest(symbol="SOL_USDC", side=Side.BID, price=high_bid, quantity=10)])
    maker = await maker_on(actor, levels=3)
    for _ in range(5):
        await maker.step()
        await assert_exact_ladders(committed, maker, 3)
        asks = [o.price for o in await maker.client.open_orders("SOL_USDC") if o.side is Side.ASK]
        assert min(asks) > high_bid
    assert not committed.trades()


async def test_a_bot_loop_outlives_failing_steps_and_stops_on_request() -> None:
    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls % 2:
            raise RuntimeError("transient")

    stop = asyncio.Event()
    task = asyncio.create_task(run_steps("flaky", flaky, 0.001, stop))
    while calls < 6:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 1)


def worth(market: Market, usdc: Decimal) -> Decimal:
    """The base quantity (on the market's step) worth `usdc` at the market's reference price."""
    return (usdc / demo.REFERENCE_PRICES[market.symbol]).quantize(market.step_size, rounding=ROUND_DOWN)


async def test_the_default_ladder_is_deep_for_the_faucets_amounts_in_every_market(actor: EngineActor) -> None:
    levels = Settings.model_fields["bot_levels"].default
    maker = await maker_on(actor, levels=levels)
    await maker.step()
    user = InProcessClient(actor, TAKER)
    await user.deposit("USDC", demo.USDC.atoms(demo.FAUCET_GRANT * 10))
    for market in demo.MARKETS:
        await user.deposit(market.base.symbol, market.base.atoms(worth(market, demo.FAUCET_GRANT * 10)))
        _, asks = await user.depth(market.symbol, 100)
        ask_value = sum(market.notional(price, quantity) for price, quantity in asks)
        assert ask_value >= 8 * demo.USDC.atoms(demo.FAUCET_GRANT), market.symbol
        grant = demo.USDC.atoms(demo.FAUCET_GRANT)
        spend = OrderRequest(symbol=market.symbol, side=Side.BID, order_type=OrderType.MARKET, quote_quantity=grant)
        half = market.steps(worth(market, demo.FAUCET_GRANT / 2))
        sell = OrderRequest(symbol=market.symbol, side=Side.ASK, order_type=OrderType.MARKET, quantity=half)
        assert not any(isinstance(o, Refused) for o in await user.place([spend, sell]))
        bids, asks = await user.depth(market.symbol, 100)
        assert len(asks) >= levels - 2 and len(bids) >= levels - 2, market.symbol
    half_btc = demo.BTC_USDC.steps(Decimal("0.5"))
    buy = OrderRequest(symbol="BTC_USDC", side=Side.BID, order_type=OrderType.MARKET, quantity=half_btc)
    assert not any(isinstance(o, Refused) for o in await user.place([buy]))
    assert len((await user.depth("BTC_USDC", 100))[1]) >= levels // 2


def test_the_web_pages_faucet_grant_is_the_one_the_maker_sizes_by() -> None:
    page = (Path(demo.__file__).parent / "web" / "static" / "js" / "account.js").read_text()
    assert f"const QUOTE_GRANT = {demo.FAUCET_GRANT};" in page
