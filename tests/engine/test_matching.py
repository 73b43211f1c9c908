"""Order types, time in force, postOnly, self-trade prevention, fees and funds, one behaviour per test.

Prices are in ticks and quantities in steps of BTC_USDC unless a test says otherwise:
one step is 10_000 BTC atoms and costs 50 USDC atoms per tick of price.
"""

from __future__ import annotations

from exchange.engine.commands import CancelAllOrders, CancelOrder
from exchange.engine.errors import RejectReason
from exchange.engine.events import (
    CloseReason,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    TradeExecuted,
)
from exchange.engine.numbers import FEE_ACCOUNT, fee_atoms
from exchange.engine.orders import OrderStatus, SelfTradePrevention, Side, TimeInForce
from tests.engine.builders import (
    BTC_USDC,
    ETH_BTC,
    FUNDING,
    accepted,
    limit,
    make_engine,
    market,
    of_type,
    rejected,
    totals,
)

STEP = BTC_USDC.base_atoms_per_step
PRICE = 60_000


def cost(price: int, steps: int) -> int:
    return BTC_USDC.notional(price, steps)


def test_limit_buy_rests_and_locks_its_notional() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 3))
    assert engine.balances_of(1)["USDC"] == (FUNDING["USDC"] - cost(PRICE, 3), cost(PRICE, 3))
    assert engine.depth("BTC_USDC", 5)[1] == [(PRICE, 3)]


def test_limit_sell_rests_and_locks_its_quantity() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 3))
    assert engine.balances_of(1)["BTC"] == (FUNDING["BTC"] - 3 * STEP, 3 * STEP)
    assert engine.depth("BTC_USDC", 5)[2] == [(PRICE, 3)]


def test_crossing_limit_trades_at_the_makers_price_and_releases_the_improvement() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 2))
    events = accepted(engine, limit(2, Side.BID, PRICE + 10, 2))
    [trade] = of_type(events, TradeExecuted)
    assert (trade.price, trade.quantity, trade.quote_quantity) == (PRICE, 2, cost(PRICE, 2))
    taker_fee = fee_atoms(2 * STEP, BTC_USDC.taker_fee_bps)
    maker_fee = fee_atoms(cost(PRICE, 2), BTC_USDC.maker_fee_bps)
    assert (trade.taker_fee, trade.maker_fee) == (taker_fee, maker_fee)
    assert engine.balances_of(2)["USDC"] == (FUNDING["USDC"] - cost(PRICE, 2), 0)
    assert engine.balances_of(2)["BTC"] == (FUNDING["BTC"] + 2 * STEP - taker_fee, 0)
    assert engine.balances_of(1)["USDC"] == (FUNDING["USDC"] + cost(PRICE, 2) - maker_fee, 0)
    assert engine.balances_of(FEE_ACCOUNT) == {"BTC": (taker_fee, 0), "USDC": (maker_fee, 0)}


def test_fees_round_down_and_every_asset_is_conserved() -> None:
    engine = make_engine()
    before = totals(engine)
    accepted(engine, limit(1, Side.ASK, 6_667, 3, "ETH_BTC"))
    events = accepted(engine, limit(2, Side.BID, 6_667, 3, "ETH_BTC"))
    [trade] = of_type(events, TradeExecuted)
    assert trade.quote_quantity == 20_001
    assert trade.maker_fee == 20_001 * ETH_BTC.maker_fee_bps // 10_000 == 10
    assert trade.taker_fee == 3_000 * ETH_BTC.taker_fee_bps // 10_000 == 2
    assert totals(engine) == before


def test_price_time_priority_best_price_then_oldest() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE + 1, 1))
    accepted(engine, limit(2, Side.ASK, PRICE, 1))
    accepted(engine, limit(3, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(4, Side.BID, PRICE + 1, 3))
    assert [t.maker_account_id for t in of_type(events, TradeExecuted)] == [2, 3, 1]


def test_market_buy_by_quantity_walks_the_book() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    accepted(engine, limit(1, Side.ASK, PRICE + 2, 2))
    events = accepted(engine, market(2, Side.BID, quantity=3))
    assert [(t.price, t.quantity) for t in of_type(events, TradeExecuted)] == [(PRICE, 1), (PRICE + 2, 2)]
    assert of_type(events, OrderFilled)[-1].status is OrderStatus.FILLED
    assert engine.balances_of(2)["USDC"] == (FUNDING["USDC"] - cost(PRICE, 1) - cost(PRICE + 2, 2), 0)


def test_market_sell_by_quantity_expires_what_the_book_cannot_fill() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1))
    events = accepted(engine, market(2, Side.ASK, quantity=3))
    [expired] = of_type(events, OrderExpired)
    assert (expired.executed, expired.reason) == (1, CloseReason.IMMEDIATE_OR_CANCEL)
    assert engine.balances_of(2)["BTC"] == (FUNDING["BTC"] - STEP, 0)


def test_market_order_with_nothing_to_fill_expires() -> None:
    engine = make_engine()
    events = accepted(engine, market(2, Side.BID, quantity=3))
    [expired] = of_type(events, OrderExpired)
    assert expired.executed == 0
    assert engine.balances_of(2)["USDC"] == (FUNDING["USDC"], 0)


def test_market_buy_by_quote_quantity_never_overspends() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 5))
    budget = cost(PRICE, 2) + cost(PRICE, 1) - 1
    events = accepted(engine, market(2, Side.BID, quote=budget))
    [trade] = of_type(events, TradeExecuted)
    assert trade.quantity == 2
    assert of_type(events, OrderFilled)[-1].status is OrderStatus.FILLED
    assert engine.balances_of(2)["USDC"] == (FUNDING["USDC"] - cost(PRICE, 2), 0)


def test_market_sell_by_quote_quantity_receives_at_most_the_quote() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 5))
    events = accepted(engine, market(2, Side.ASK, quote=cost(PRICE, 3)))
    assert [t.quantity for t in of_type(events, TradeExecuted)] == [3]
    assert engine.balances_of(2)["BTC"] == (FUNDING["BTC"] - 3 * STEP, 0)


def test_market_quote_budget_never_skips_a_better_maker() -> None:
    """Regression: a budget short of one step at the best bid used to sell to a worse bid."""
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, 110, 1, "ETH_BTC"))
    accepted(engine, limit(1, Side.BID, 100, 1, "ETH_BTC"))
    events = accepted(engine, market(2, Side.ASK, quote=105, symbol="ETH_BTC"))
    assert of_type(events, TradeExecuted) == []
    assert of_type(events, OrderExpired)[0].executed == 0


def test_ioc_fills_what_it_can_and_expires_the_rest() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(2, Side.BID, PRICE + 5, 3, tif=TimeInForce.IOC))
    [expired] = of_type(events, OrderExpired)
    assert (expired.executed, expired.reason) == (1, CloseReason.IMMEDIATE_OR_CANCEL)
    assert engine.orders_of(2) == []
    assert engine.balances_of(2)["USDC"] == (FUNDING["USDC"] - cost(PRICE, 1), 0)


def test_fok_fills_completely_or_is_rejected() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 2))
    rejected(engine, limit(2, Side.BID, PRICE, 3, tif=TimeInForce.FOK), RejectReason.FOK_NOT_FILLABLE)
    rejected(engine, market(2, Side.BID, quantity=3, tif=TimeInForce.FOK), RejectReason.FOK_NOT_FILLABLE)
    events = accepted(engine, limit(2, Side.BID, PRICE, 2, tif=TimeInForce.FOK))
    assert of_type(events, OrderFilled)[-1].status is OrderStatus.FILLED


def test_post_only_rests_when_it_does_not_cross() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(2, Side.BID, PRICE - 1, 1, post_only=True))
    assert of_type(events, TradeExecuted) == []
    assert [o.spec.id for o in engine.orders_of(2)] == [2]


def test_stp_reject_taker_expires_the_taker_and_keeps_the_maker() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(1, Side.BID, PRICE, 1, stp=SelfTradePrevention.REJECT_TAKER))
    assert of_type(events, TradeExecuted) == []
    [expired] = of_type(events, OrderExpired)
    assert (expired.order.id, expired.reason) == (2, CloseReason.SELF_TRADE_PREVENTION)
    assert [o.spec.id for o in engine.orders_of(1)] == [1]


def test_stp_reject_taker_keeps_fills_before_its_own_order() -> None:
    engine = make_engine()
    accepted(engine, limit(2, Side.ASK, PRICE, 1))
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    accepted(engine, limit(2, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(1, Side.BID, PRICE, 3))
    assert [t.maker_order_id for t in of_type(events, TradeExecuted)] == [1]
    assert of_type(events, OrderExpired)[0].executed == 1
    assert engine.depth("BTC_USDC", 5)[2] == [(PRICE, 2)]


def test_stp_reject_maker_expires_own_makers_and_goes_on() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    accepted(engine, limit(2, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(1, Side.BID, PRICE, 1, stp=SelfTradePrevention.REJECT_MAKER))
    [expired] = of_type(events, OrderExpired)
    assert (expired.order.id, expired.reason) == (1, CloseReason.SELF_TRADE_PREVENTION)
    assert [t.maker_order_id for t in of_type(events, TradeExecuted)] == [2]
    assert engine.balances_of(1)["BTC"][1] == 0


def test_stp_reject_both_expires_maker_and_taker() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    accepted(engine, limit(2, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(1, Side.BID, PRICE, 2, stp=SelfTradePrevention.REJECT_BOTH))
    assert sorted(e.order.id for e in of_type(events, OrderExpired)) == [1, 3]
    assert of_type(events, TradeExecuted) == []
    assert engine.orders_of(1) == []
    assert engine.depth("BTC_USDC", 5)[2] == [(PRICE, 1)]


def test_stp_allow_trades_with_oneself() -> None:
    engine = make_engine()
    before = totals(engine)
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    events = accepted(engine, limit(1, Side.BID, PRICE, 1, stp=SelfTradePrevention.ALLOW))
    [trade] = of_type(events, TradeExecuted)
    assert trade.maker_account_id == trade.taker_account_id == 1
    assert totals(engine) == before


def test_cancel_by_id_and_by_client_id_releases_the_reservation() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1))
    accepted(engine, limit(1, Side.BID, PRICE, 1, client_id=7))
    [cancelled] = of_type(
        accepted(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=1, ts=2)), OrderCancelled
    )
    assert (cancelled.order.id, cancelled.reason) == (1, CloseReason.USER_CANCEL)
    [cancelled] = of_type(
        accepted(engine, CancelOrder(account_id=1, symbol="BTC_USDC", client_id=7, ts=2)), OrderCancelled
    )
    assert cancelled.order.id == 2
    assert engine.balances_of(1)["USDC"] == (FUNDING["USDC"], 0)
    accepted(engine, limit(1, Side.BID, PRICE, 1, client_id=7))


def test_cancel_all_cancels_one_market_only() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1))
    accepted(engine, limit(1, Side.ASK, PRICE + 5, 1))
    accepted(engine, limit(1, Side.BID, 6_000, 1, "ETH_BTC"))
    accepted(engine, limit(2, Side.BID, PRICE, 1))
    events = accepted(engine, CancelAllOrders(account_id=1, symbol="BTC_USDC", ts=2))
    assert [e.order.id for e in of_type(events, OrderCancelled)] == [1, 2]
    assert [o.spec.symbol for o in engine.orders_of(1)] == ["ETH_BTC"]
    assert [o.spec.id for o in engine.orders_of(2)] == [4]


def test_partially_filled_maker_keeps_its_place_and_reservation() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 5))
    accepted(engine, limit(2, Side.BID, PRICE, 2))
    [order] = engine.orders_of(1)
    assert (order.remaining, order.executed, order.status) == (3, 2, OrderStatus.PARTIALLY_FILLED)
    assert engine.balances_of(1)["BTC"] == (FUNDING["BTC"] - 5 * STEP, 3 * STEP)
