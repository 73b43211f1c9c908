"""The client side of the wire module round-trips with the server side, field for field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.api.auth import KeyPair
from exchange.demo import ASSETS, BTC_USDC, MARKETS, SOL_USDC
from exchange.engine.commands import PlaceOrder
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderSpec, OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.engine.queries import OrderView
from exchange.protocol import capital, client, ours, replies, requests
from exchange.protocol.codes import ApiError
from exchange.protocol.ours import Scope

ORDERS = [
    PlaceOrder(
        account_id=7, symbol="SOL_USDC", side=Side.BID, order_type=OrderType.LIMIT, price=15_001, quantity=3, ts=1
    ),
    PlaceOrder(
        account_id=7,
        symbol="SOL_USDC",
        side=Side.ASK,
        order_type=OrderType.LIMIT,
        price=1,
        quantity=10**30,
        time_in_force=TimeInForce.GTC,
        post_only=True,
        ts=1,
    ),
    PlaceOrder(
        account_id=7,
        symbol="BTC_USDC",
        side=Side.BID,
        order_type=OrderType.LIMIT,
        price=600_000,
        quantity=1,
        time_in_force=TimeInForce.IOC,
        ts=1,
    ),
    PlaceOrder(account_id=7, symbol="BTC_USDC", side=Side.ASK, order_type=OrderType.MARKET, quantity=12_345, ts=1),
    PlaceOrder(
        account_id=7,
        symbol="SOL_USDC",
        side=Side.BID,
        order_type=OrderType.MARKET,
        quote_quantity=1_000_001,
        time_in_force=TimeInForce.FOK,
        ts=1,
    ),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: f"{o.order_type}-{o.side}-{o.time_in_force}")
def test_order_params_parse_back_to_the_same_command(order: PlaceOrder) -> None:
    markets = {m.symbol: m for m in MARKETS}
    params = client.order_params(
        markets[order.symbol],
        side=order.side,
        order_type=order.order_type,
        price=order.price,
        quantity=order.quantity,
        quote_quantity=order.quote_quantity,
        time_in_force=order.time_in_force,
        post_only=order.post_only,
    )
    assert requests.parse_order(params, markets, account_id=7, ts=1) == order


def test_cancel_params_parse_back_to_the_order_id() -> None:
    assert requests.parse_order_ref(client.order_cancel_params("SOL_USDC", 2**40)) == (2**40, None)


def test_markets_read_back_equal_the_listings() -> None:
    assets = client.assets_of([replies.asset_fields(a) for a in ASSETS])
    assert list(assets.values()) == list(ASSETS)
    for market in MARKETS:
        assert client.market_of(replies.market_fields(market, halted=False, created_at=0), assets) == market


def test_depth_reads_back_best_first() -> None:
    bids, asks = [(15_000, 3), (14_990, 1)], [(15_010, 2), (15_020, 10**20)]
    fields = replies.depth_fields(SOL_USDC, sequence=9, bids=bids, asks=asks, ts=0)
    assert client.depth_of(SOL_USDC, fields) == (bids, asks)


def test_a_live_order_reads_back_as_resting() -> None:
    spec = OrderSpec(
        id=41,
        account_id=7,
        symbol="BTC_USDC",
        side=Side.ASK,
        order_type=OrderType.LIMIT,
        price=600_001,
        quantity=500,
        quote_quantity=None,
        time_in_force=TimeInForce.GTC,
        post_only=False,
        self_trade_prevention=SelfTradePrevention.REJECT_TAKER,
        client_id=None,
        created_at=1_000_000,
    )
    view = OrderView(spec=spec, status=OrderStatus.PARTIALLY_FILLED, executed=120, executed_quote=7_200_012)
    assert client.resting_of(replies.order_fields(view, BTC_USDC), BTC_USDC) == (41, Side.ASK, 600_001, 380)


def test_balances_read_back_as_available_atoms() -> None:
    assets = {a.symbol: a for a in ASSETS}
    held = {"USDC": (10**15 + 1, 5), "BTC": (0, 7)}
    assert client.available_of(replies.balance_fields(assets, held), assets) == {"USDC": 10**15 + 1, "BTC": 0}


def test_errors_read_back_and_orders_are_not_errors() -> None:
    assert client.error_of(replies.error_fields("INSUFFICIENT_FUNDS", "insufficient funds")) == (
        "INSUFFICIENT_FUNDS",
        "insufficient funds",
    )
    assert client.error_of({"id": "1", "status": "New"}) is None


def test_batch_results_read_back_as_orders_or_errors() -> None:
    assert client.error_of(replies.batch_err("INVALID_PRICE", "off the tick")) == ("INVALID_PRICE", "off the tick")
    assert client.error_of(replies.batch_ok({"id": "1", "status": "New"})) is None


ACCOUNTS = [
    ours.AccountRequest(public_key=KeyPair.generate().public_key),
    ours.AccountRequest(public_key=KeyPair.generate().public_key, scopes=frozenset(Scope), label="the desk"),
    ours.AccountRequest(public_key=KeyPair.generate().public_key, scopes=frozenset(), label=""),
]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_account_params_parse_back(account: ours.AccountRequest) -> None:
    assert ours.parse_account(client.account_params(account)) == account


KEYS = [
    ours.KeyRequest(public_key=KeyPair.generate().public_key),
    ours.KeyRequest(public_key=KeyPair.generate().public_key, scopes=frozenset((Scope.READ,))),
    ours.KeyRequest(public_key=KeyPair.generate().public_key, scopes=frozenset((Scope.READ, Scope.TRADE))),
]


@pytest.mark.parametrize("key", KEYS)
def test_key_params_parse_back(key: ours.KeyRequest) -> None:
    assert ours.parse_key(client.key_params(key)) == key
    assert ours.parse_public_key(client.key_ref_params(key.public_key)) == key.public_key


TRANSFERS = [
    ours.TransferRequest(symbol="USDC", quantity=Decimal("1000")),
    ours.TransferRequest(symbol="SOL", quantity=Decimal("0.000000001"), transfer_id="t" * 64, account_id=2**63 - 1),
    ours.TransferRequest(symbol="USDC", quantity=Decimal("2.5"), address="sol" + "a" * 32, transaction_hash="~" * 128),
]


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_transfer_params_parse_back(transfer: ours.TransferRequest) -> None:
    assert ours.parse_transfer(client.transfer_params(transfer), to_account=True) == transfer


def test_a_withdrawal_never_names_another_account() -> None:
    params = client.transfer_params(TRANSFERS[1])
    assert "accountId" in params
    with pytest.raises(ApiError) as refused:
        ours.parse_transfer(params, to_account=False)
    assert (refused.value.status, refused.value.code) == (400, "INVALID_CLIENT_REQUEST")


WITHDRAWALS = [
    capital.WithdrawalRequest(symbol="SOL", quantity=Decimal("1.5"), address="So1Dest", blockchain="Solana"),
    capital.WithdrawalRequest(
        symbol="USDC", quantity=Decimal("0.000001"), address="0x" + "f" * 126, blockchain="Ethereum", client_id="c" * 64
    ),
]


@pytest.mark.parametrize("withdrawal", WITHDRAWALS)
def test_withdrawal_params_parse_back(withdrawal: capital.WithdrawalRequest) -> None:
    assert capital.parse_withdrawal(client.withdrawal_params(withdrawal)) == withdrawal


@pytest.mark.parametrize(
    "settlement", [capital.Settlement(id=1), capital.Settlement(id=2**63 - 1, transaction_hash="!")]
)
def test_settlement_params_parse_back(settlement: capital.Settlement) -> None:
    assert capital.parse_settlement(client.settlement_params(settlement)) == settlement


@pytest.mark.parametrize("asset", ASSETS, ids=lambda a: a.symbol)
def test_asset_params_parse_back(asset: Asset) -> None:
    assert ours.parse_asset(client.asset_params(asset)) == asset


@pytest.mark.parametrize("market", MARKETS, ids=lambda m: m.symbol)
def test_market_params_parse_back(market: Market) -> None:
    listing = ours.MarketRequest(
        symbol=market.symbol,
        base_symbol=market.base.symbol,
        quote_symbol=market.quote.symbol,
        tick_size=market.tick_size,
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        maker_fee_bps=market.maker_fee_bps,
        taker_fee_bps=market.taker_fee_bps,
    )
    assert ours.parse_market(client.market_params(listing)) == listing


def test_a_market_without_a_symbol_is_named_base_quote() -> None:
    params = {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.1", "minQuantity": "0.1"}
    assert ours.parse_market(params).symbol == "SOL_USDC"
