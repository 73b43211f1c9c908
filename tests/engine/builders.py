"""Small builders shared by the engine tests: a funded engine, commands, and checks.

Three markets share three assets so that one account's balances are touched from
several books: BTC_USDC and ETH_USDC quote in USDC, ETH_BTC quotes ETH in BTC. Their
scales differ (quote atoms per tick-step 50, 100 and 1) and every fee is nonzero
except ETH_USDC's maker fee, so fee rounding happens on ETH_BTC.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from exchange.demo import spot_market
from exchange.engine import state
from exchange.engine.commands import AddAsset, AddMarket, Command, Deposit, PlaceOrder
from exchange.engine.engine import Engine
from exchange.engine.errors import RejectReason
from exchange.engine.events import Event, Rejected, TradeExecuted
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce

BTC = Asset(symbol="BTC", decimals=8)
ETH = Asset(symbol="ETH", decimals=6)
USDC = Asset(symbol="USDC", decimals=6)
ASSETS = (BTC, ETH, USDC)


BTC_USDC = spot_market(BTC, USDC, "0.5", "0.0001", maker_fee_bps=10, taker_fee_bps=20)
ETH_USDC = spot_market(ETH, USDC, "0.01", "0.01", "0.02", taker_fee_bps=30)
ETH_BTC = spot_market(ETH, BTC, "0.00001", "0.001", maker_fee_bps=5, taker_fee_bps=7)
MARKETS = (BTC_USDC, ETH_USDC, ETH_BTC)
MIDS = {"BTC_USDC": 60_000, "ETH_USDC": 200_000, "ETH_BTC": 6_667}
"""A price (ticks) near which tests trade in each market."""

FUNDING = {"BTC": 1_000_000, "ETH": 1_000_000, "USDC": 1_000_000_000}
"""Atoms each account of `make_engine` starts with."""

E = TypeVar("E", bound=Event)


def make_engine(accounts: Iterable[int] = (1, 2, 3, 4), funding: dict[str, int] | None = None) -> Engine:
    """An engine with ASSETS and MARKETS listed and each account funded by deposits."""
    engine = Engine()
    for listed in ASSETS:
        engine.handle(AddAsset(asset=listed, ts=0))
    for spec in MARKETS:
        engine.handle(AddMarket(market=spec, ts=0))
    for account in accounts:
        for symbol, amount in (funding if funding is not None else FUNDING).items():
            engine.handle(
                Deposit(account_id=account, asset=symbol, amount=amount, transfer_id=f"fund-{account}-{symbol}", ts=0)
            )
    return engine


def limit(
    account: int,
    side: Side,
    price: int,
    quantity: int,
    symbol: str = "BTC_USDC",
    *,
    tif: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
    stp: SelfTradePrevention = SelfTradePrevention.REJECT_TAKER,
    client_id: int | None = None,
    ts: int = 1,
) -> PlaceOrder:
    """A limit order command."""
    return PlaceOrder(
        account_id=account,
        symbol=symbol,
        side=side,
        order_type=OrderType.LIMIT,
        price=price,
        quantity=quantity,
        time_in_force=tif,
        post_only=post_only,
        self_trade_prevention=stp,
        client_id=client_id,
        ts=ts,
    )


def priced(
    market: Market,
    account: int,
    side: Side,
    price: str,
    quantity: str,
    ts: int = 1,
    *,
    client_id: int | None = None,
) -> PlaceOrder:
    """A limit order in `market` at a decimal price and quantity."""
    return limit(
        account,
        side,
        market.ticks(Decimal(price)),
        market.steps(Decimal(quantity)),
        market.symbol,
        client_id=client_id,
        ts=ts,
    )


def market(
    account: int,
    side: Side,
    *,
    quantity: int | None = None,
    quote: int | None = None,
    symbol: str = "BTC_USDC",
    tif: TimeInForce = TimeInForce.GTC,
    stp: SelfTradePrevention = SelfTradePrevention.REJECT_TAKER,
    client_id: int | None = None,
    ts: int = 1,
) -> PlaceOrder:
    """A market order command, sized by `quantity` (steps) or `quote` (quote atoms)."""
    return PlaceOrder(
        account_id=account,
        symbol=symbol,
        side=side,
        order_type=OrderType.MARKET,
        quantity=quantity,
        quote_quantity=quote,
        time_in_force=tif,
        self_trade_prevention=stp,
        client_id=client_id,
        ts=ts,
    )


def trade(market: Market, trade_id: int, price: int, steps: int, ts: int) -> TradeExecuted:
    """A trade of `steps` at `price` ticks in `market` between accounts 1 (maker) and 2, without fees."""
    return TradeExecuted(
        id=trade_id,
        symbol=market.symbol,
        price=price,
        quantity=steps,
        quote_quantity=market.notional(price, steps),
        taker_side=Side.BID,
        maker_order_id=1,
        taker_order_id=2,
        maker_account_id=1,
        taker_account_id=2,
        maker_fee=0,
        taker_fee=0,
        ts=ts,
    )


def of_type(events: Iterable[Event], kind: type[E]) -> list[E]:
    """The events of one kind, in order."""
    return [e for e in events if isinstance(e, kind)]


def accepted(engine: Engine, command: Command) -> list[Event]:
    """Handle a command that must not be rejected; return its events."""
    events = engine.handle(command)
    assert not of_type(events, Rejected), events
    assert_sound(engine)
    return events


def rejected(engine: Engine, command: Command, reason: RejectReason) -> None:
    """Handle a command that must be rejected with `reason`, changing nothing."""
    before = state.digest(engine)
    events = engine.handle(command)
    assert len(events) == 1 and isinstance(events[0], Rejected), events
    assert events[0].reason is reason, events[0]
    assert events[0].command is command
    assert state.digest(engine) == before


def assert_sound(engine: Engine) -> None:
    """Locked equals what open orders reserve, no balance is negative, no book is crossed."""
    assert state.reservation_mismatches(engine) == []
    for balance in engine.balances.values():
        assert balance.available >= 0 and balance.locked >= 0, (balance.account_id, balance.asset)
    for symbol in engine.books:
        bid, ask = engine.best_bid_ask(symbol)
        assert bid is None or ask is None or bid < ask, (symbol, bid, ask)


def totals(engine: Engine) -> dict[str, int]:
    """Per asset, the sum of available + locked over every account (fee account included)."""
    out: dict[str, int] = {}
    for balance in engine.balances.values():
        out[balance.asset] = out.get(balance.asset, 0) + balance.available + balance.locked
    return out
