"""Every rejection reason, each produced by a command that then changes nothing; transfers and halts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.engine import state
from exchange.engine.commands import (
    AddAsset,
    AddMarket,
    CancelAllOrders,
    CancelOrder,
    Chain,
    Deposit,
    PlaceOrder,
    SetMarketHalted,
    SettleWithdrawal,
    Withdraw,
)
from exchange.engine.engine import Engine
from exchange.engine.errors import RejectReason
from exchange.engine.events import OrderCancelled, Rejected, WithdrawalSettled
from exchange.engine.numbers import Asset, InvalidInput
from exchange.engine.orders import OrderType, Side, TimeInForce
from exchange.engine.state import digest, restore, snapshot
from tests.engine.builders import (
    BTC,
    BTC_USDC,
    FUNDING,
    accepted,
    limit,
    make_engine,
    market,
    of_type,
    rejected,
)

PRICE = 60_000


def test_unknown_and_duplicate_assets_and_markets() -> None:
    engine = make_engine()
    rejected(engine, AddAsset(asset=BTC, ts=1), RejectReason.DUPLICATE_ASSET)
    rejected(engine, AddMarket(market=BTC_USDC, ts=1), RejectReason.DUPLICATE_MARKET)
    fresh = Engine()
    fresh.handle(AddAsset(asset=BTC, ts=1))
    rejected(fresh, AddMarket(market=BTC_USDC, ts=1), RejectReason.UNKNOWN_ASSET)
    fresh.handle(AddAsset(asset=Asset(symbol="USDC", decimals=2), ts=1))
    rejected(fresh, AddMarket(market=BTC_USDC, ts=1), RejectReason.UNKNOWN_ASSET)
    rejected(engine, limit(1, Side.BID, PRICE, 1, "DOGE_USDC"), RejectReason.UNKNOWN_MARKET)
    rejected(engine, SetMarketHalted(symbol="DOGE_USDC", halted=True, ts=1), RejectReason.UNKNOWN_MARKET)
    rejected(engine, Deposit(account_id=1, asset="DOGE", amount=1, transfer_id="d", ts=1), RejectReason.UNKNOWN_ASSET)


def test_deposits_are_idempotent_by_transfer_id() -> None:
    engine = make_engine()
    accepted(engine, Deposit(account_id=1, asset="BTC", amount=5, transfer_id="x", ts=1))
    rejected(
        engine, Deposit(account_id=1, asset="BTC", amount=5, transfer_id="x", ts=1), RejectReason.DUPLICATE_TRANSFER
    )
    rejected(
        engine, Deposit(account_id=2, asset="ETH", amount=9, transfer_id="x", ts=1), RejectReason.DUPLICATE_TRANSFER
    )
    assert engine.balances_of(1)["BTC"] == (FUNDING["BTC"] + 5, 0)
    rejected(engine, Deposit(account_id=1, asset="BTC", amount=0, transfer_id="y", ts=1), RejectReason.INVALID_AMOUNT)


def test_withdrawals_come_only_from_available() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 10))
    available = engine.balances_of(1)["BTC"][0]
    command = Withdraw(account_id=1, asset="BTC", amount=available + 1, transfer_id="w", ts=1)
    rejected(engine, command, RejectReason.INSUFFICIENT_FUNDS)
    rejected(
        engine, Withdraw(account_id=9, asset="BTC", amount=1, transfer_id="w", ts=1), RejectReason.INSUFFICIENT_FUNDS
    )
    accepted(engine, Withdraw(account_id=1, asset="BTC", amount=available, transfer_id="w", ts=1))
    rejected(
        engine, Withdraw(account_id=1, asset="BTC", amount=1, transfer_id="w", ts=1), RejectReason.DUPLICATE_TRANSFER
    )
    assert engine.balances_of(1)["BTC"] == (0, 10 * BTC_USDC.base_atoms_per_step)


def test_a_withdrawal_to_a_chain_is_pending_until_settled_once() -> None:
    engine = make_engine()
    before = engine.balances_of(1)["BTC"][0]
    chain = Chain(blockchain="Bitcoin", address="bc1q")
    for transfer_id in ("sent", "bounced"):
        accepted(engine, Withdraw(account_id=1, asset="BTC", amount=7, transfer_id=transfer_id, chain=chain, ts=1))
    assert set(engine.pending_withdrawals) == {"sent", "bounced"}
    assert engine.balances_of(1)["BTC"][0] == before - 14
    assert digest(restore(snapshot(engine))) == digest(engine)

    events = accepted(engine, SettleWithdrawal(transfer_id="sent", confirmed=True, transaction_hash="0xab", ts=2))
    assert of_type(events, WithdrawalSettled)[0].transaction_hash == "0xab"
    assert engine.balances_of(1)["BTC"][0] == before - 14
    accepted(engine, SettleWithdrawal(transfer_id="bounced", confirmed=False, ts=3))
    assert engine.balances_of(1)["BTC"][0] == before - 7
    for transfer_id in ("sent", "bounced", "never"):
        for confirmed in (True, False):
            command = SettleWithdrawal(transfer_id=transfer_id, confirmed=confirmed, ts=4)
            rejected(engine, command, RejectReason.WITHDRAWAL_NOT_PENDING)
    accepted(engine, Withdraw(account_id=1, asset="BTC", amount=1, transfer_id="ledger", ts=5))
    assert not engine.pending_withdrawals  # without a chain a withdrawal settles at once


def test_halted_market_refuses_orders_but_allows_cancels() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1))
    accepted(engine, SetMarketHalted(symbol="BTC_USDC", halted=True, ts=1))
    rejected(engine, limit(1, Side.BID, PRICE, 1), RejectReason.MARKET_HALTED)
    rejected(engine, market(1, Side.BID, quantity=1), RejectReason.MARKET_HALTED)
    accepted(engine, limit(1, Side.BID, 6_000, 1, "ETH_BTC"))
    events = accepted(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=1, ts=1))
    assert len(of_type(events, OrderCancelled)) == 1
    accepted(engine, SetMarketHalted(symbol="BTC_USDC", halted=False, ts=1))
    accepted(engine, limit(1, Side.BID, PRICE, 1))


def test_invalid_orders() -> None:
    engine = make_engine()
    bad = RejectReason.INVALID_ORDER
    base = {"account_id": 1, "symbol": "BTC_USDC", "side": Side.BID, "ts": 1}
    rejected(engine, PlaceOrder(order_type=OrderType.LIMIT, quantity=1, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.LIMIT, price=0, quantity=1, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.LIMIT, price=PRICE, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.LIMIT, price=PRICE, quantity=1, quote_quantity=5, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, price=PRICE, quantity=1, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, quantity=1, post_only=True, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, quantity=1, quote_quantity=5, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, quote_quantity=0, **base), bad)  # type: ignore[arg-type]
    rejected(engine, PlaceOrder(order_type=OrderType.MARKET, quantity=-1, **base), bad)  # type: ignore[arg-type]
    rejected(engine, limit(1, Side.BID, PRICE, 1, tif=TimeInForce.IOC, post_only=True), bad)
    rejected(engine, CancelOrder(account_id=1, symbol="BTC_USDC", ts=1), bad)


def test_quantity_below_minimum() -> None:
    engine = make_engine()
    rejected(engine, limit(1, Side.BID, 200_000, 1, "ETH_USDC"), RejectReason.QUANTITY_BELOW_MINIMUM)
    rejected(engine, market(1, Side.BID, quantity=1, symbol="ETH_USDC"), RejectReason.QUANTITY_BELOW_MINIMUM)
    accepted(engine, limit(1, Side.BID, 200_000, 2, "ETH_USDC"))


def test_insufficient_funds() -> None:
    engine = make_engine(funding={"BTC": 30_000, "USDC": 10_000_000})
    rejected(engine, limit(1, Side.ASK, PRICE, 4), RejectReason.INSUFFICIENT_FUNDS)
    rejected(engine, limit(1, Side.BID, PRICE, 4), RejectReason.INSUFFICIENT_FUNDS)
    rejected(engine, limit(5, Side.BID, PRICE, 1), RejectReason.INSUFFICIENT_FUNDS)
    rejected(engine, market(1, Side.BID, quote=10_000_001), RejectReason.INSUFFICIENT_FUNDS)
    rejected(engine, market(1, Side.ASK, quantity=4), RejectReason.INSUFFICIENT_FUNDS)
    accepted(engine, limit(2, Side.ASK, 70_000, 3))
    rejected(engine, market(1, Side.BID, quantity=3), RejectReason.INSUFFICIENT_FUNDS)
    accepted(engine, market(1, Side.BID, quantity=2))


def test_post_only_would_take() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 1))
    rejected(engine, limit(2, Side.BID, PRICE, 1, post_only=True), RejectReason.POST_ONLY_WOULD_TAKE)
    rejected(engine, limit(1, Side.BID, PRICE + 1, 1, post_only=True), RejectReason.POST_ONLY_WOULD_TAKE)


def test_fok_not_fillable() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.ASK, PRICE, 2))
    rejected(engine, limit(2, Side.BID, PRICE, 3, tif=TimeInForce.FOK), RejectReason.FOK_NOT_FILLABLE)
    rejected(engine, market(2, Side.BID, quantity=3, tif=TimeInForce.FOK), RejectReason.FOK_NOT_FILLABLE)
    rejected(engine, limit(1, Side.BID, PRICE, 1, tif=TimeInForce.FOK), RejectReason.FOK_NOT_FILLABLE)


def test_duplicate_client_id_among_open_orders() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1, client_id=3))
    rejected(engine, limit(1, Side.BID, PRICE, 1, client_id=3), RejectReason.DUPLICATE_CLIENT_ID)
    rejected(engine, limit(1, Side.BID, 6_000, 1, "ETH_BTC", client_id=3), RejectReason.DUPLICATE_CLIENT_ID)
    accepted(engine, limit(2, Side.BID, PRICE, 1, client_id=3))


def test_order_not_found_including_other_accounts_orders() -> None:
    engine = make_engine()
    accepted(engine, limit(1, Side.BID, PRICE, 1, client_id=3))
    missing = RejectReason.ORDER_NOT_FOUND
    rejected(engine, CancelOrder(account_id=2, symbol="BTC_USDC", order_id=1, ts=1), missing)
    rejected(engine, CancelOrder(account_id=2, symbol="BTC_USDC", client_id=3, ts=1), missing)
    rejected(engine, CancelOrder(account_id=1, symbol="ETH_BTC", order_id=1, ts=1), missing)
    rejected(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=99, ts=1), missing)
    rejected(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=1, client_id=4, ts=1), missing)
    accepted(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=1, ts=1))
    rejected(engine, CancelOrder(account_id=1, symbol="BTC_USDC", order_id=1, ts=1), missing)
    assert of_type(accepted(engine, CancelAllOrders(account_id=1, symbol="BTC_USDC", ts=1)), OrderCancelled) == []


def banded_engine() -> Engine:
    """BTC_USDC with a band of 0.8x..1.25x, accounts 1 and 2 funded, no trade yet."""
    banded = replace(BTC_USDC, band_min=Decimal("0.8"), band_max=Decimal("1.25"))
    return make_engine(accounts=(1, 2), markets=(banded,))


def test_price_band_no_reference_before_the_first_trade() -> None:
    """No trade yet: any price goes, however far (there is nothing to measure it against)."""
    engine = banded_engine()
    accepted(engine, limit(1, Side.ASK, 10**30, 1))
    accepted(engine, limit(2, Side.BID, 1, 1))


def test_price_band_inside_at_the_edges_and_outside() -> None:
    """Reference 60,001 ticks: 0.8x = 48,000.8, so the lowest price is 48,001 (rounded up into the band);
    1.25x = 75,001.25, so the highest is 75,001 (rounded down). Both edges are inside, one tick beyond is out."""
    engine = banded_engine()
    accepted(engine, limit(1, Side.ASK, 60_001, 1))
    accepted(engine, limit(2, Side.BID, 60_001, 1))
    assert engine.books["BTC_USDC"].last_price == 60_001
    assert BTC_USDC.band(60_001) is None
    assert engine.books["BTC_USDC"].market.band(60_001) == (48_001, 75_001)
    outside = RejectReason.PRICE_OUTSIDE_BAND
    rejected(engine, limit(1, Side.ASK, 75_002, 1), outside)
    rejected(engine, limit(2, Side.BID, 48_000, 1), outside)
    rejected(engine, limit(2, Side.BID, 10**39, 1), outside)
    events = engine.handle(limit(1, Side.ASK, 75_002, 1))
    assert isinstance(events[0], Rejected)
    assert events[0].message == (
        "price 37501.0 is outside the price band 24000.5..37500.5 (0.8x..1.25x the last trade price 30000.5)"
    )
    accepted(engine, limit(1, Side.ASK, 75_001, 1))
    accepted(engine, limit(2, Side.BID, 48_001, 1))
    accepted(engine, limit(2, Side.BID, 60_000, 2))


def test_price_band_follows_the_last_trade_and_survives_a_restore() -> None:
    """A trade at 50,000 moves the reference: 75,001 is now out (the top is 62,500), 40,000 in."""
    engine = banded_engine()
    accepted(engine, limit(1, Side.ASK, 50_000, 1))
    accepted(engine, market(2, Side.BID, quantity=1))
    restored = state.restore(state.snapshot(engine))
    assert state.digest(restored) == state.digest(engine)
    for each in (engine, restored):
        rejected(each, limit(1, Side.ASK, 62_501, 1), RejectReason.PRICE_OUTSIDE_BAND)
        accepted(each, limit(1, Side.ASK, 62_500, 1))
        accepted(each, limit(2, Side.BID, 40_000, 1))


@pytest.mark.parametrize(("low", "high"), [("0.8", None), ("0", "2"), ("1.1", "2"), ("0.5", "0.9"), ("NaN", "2")])
def test_price_band_multipliers_must_bracket_one(low: str, high: str | None) -> None:
    with pytest.raises(InvalidInput):
        replace(BTC_USDC, band_min=Decimal(low), band_max=None if high is None else Decimal(high))


def test_every_reason_is_produced_by_a_test_here() -> None:
    elsewhere = {
        RejectReason.UNSTORABLE: "test_actor.py",  # given by the actor
        RejectReason.INVALID_PRICE: "test_numbers.py",  # raised as InvalidInput by the number rules
        RejectReason.INVALID_LISTING: "test_numbers.py",
    }
    here = Path(__file__)
    assert [
        r
        for r in RejectReason
        if f"RejectReason.{r.name}" not in here.with_name(elsewhere.get(r, here.name)).read_text()
        and r is not RejectReason.INVALID_ORDER
    ] == []
