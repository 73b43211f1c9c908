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
from exchange.protocol import client, replies, requests
from exchange.protocol.codes import ApiError
from exchange.protocol.requests import Scope
from tests.engine import builders

ORDERS = [
    builders.limit(7, Side.BID, 15_001, 3, "SOL_USDC"),
    builders.limit(7, Side.ASK, 1, 10**30, "SOL_USDC", post_only=True),
    builders.limit(7, Side.BID, 600_000, 1, "BTC_USDC", tif=TimeInForce.IOC),
    builders.market(7, Side.ASK, quantity=12_345, symbol="BTC_USDC"),
    builders.market(7, Side.BID, quote=1_000_001, symbol="SOL_USDC", tif=TimeInForce.FOK),
]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: f"{o.order_type}-{o.side}-{o.time_in_force}")
def test_order_params_parse_back_to_the_same_command(order: PlaceOrder) -> None:
    markets = {m.symbol: m for m in MARKETS}
    params = client.order_params(markets[order.symbol], order)
    parsed = requests.OrderRequest.read(params)
    assert requests.parse_order(parsed, markets[parsed.symbol], account_id=7, ts=1) == order


def test_cancel_params_parse_back_to_the_order_id() -> None:
    ref = requests.OrderRef(symbol="SOL_USDC", order_id=2**40)
    assert requests.OrderRef.read(ref.params()) == ref


def test_markets_read_back_equal_the_listings() -> None:
    assets = client.assets_of([replies.ASSET.encode(a) for a in ASSETS])
    assert list(assets.values()) == list(ASSETS)
    for market in MARKETS:
        assert client.market_of(replies.MARKET.encode(replies.Listing(market, False, 0)), assets) == market


def test_depth_reads_back_best_first() -> None:
    bids, asks = [(15_000, 3), (14_990, 1)], [(15_010, 2), (15_020, 10**20)]
    fields = replies.DEPTH.encode(replies.Book(SOL_USDC, 9, bids, asks, 0))
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
    assert client.resting_of(replies.ORDER.encode(replies.Placed(view, BTC_USDC)), BTC_USDC) == (
        41,
        Side.ASK,
        600_001,
        380,
    )


def test_balances_read_back_as_available_atoms() -> None:
    assets = {a.symbol: a for a in ASSETS}
    held = {"USDC": (10**15 + 1, 5), "BTC": (0, 7)}
    assert client.available_of(replies.balance_fields(assets, held), assets) == {"USDC": 10**15 + 1, "BTC": 0}


def test_errors_read_back_and_orders_are_not_errors() -> None:
    assert client.error_of(replies.ERROR.encode(("INSUFFICIENT_FUNDS", "insufficient funds"))) == (
        "INSUFFICIENT_FUNDS",
        "insufficient funds",
    )
    assert client.error_of({"id": "1", "status": "New"}) is None


def test_batch_results_read_back_as_orders_or_errors() -> None:
    error = replies.batch_item(replies.ERROR.encode(("INVALID_PRICE", "off the tick")), ok=False)
    assert client.error_of(error) == ("INVALID_PRICE", "off the tick")
    assert client.error_of(replies.batch_item({"id": "1", "status": "New"}, ok=True)) is None


ACCOUNTS = [
    requests.AccountRequest(public_key=KeyPair.generate().public_key),
    requests.AccountRequest(public_key=KeyPair.generate().public_key, scopes="read,trade,admin", label="the desk"),
    requests.AccountRequest(public_key=KeyPair.generate().public_key, scopes="", label=""),
]


@pytest.mark.parametrize("account", ACCOUNTS)
def test_account_params_parse_back(account: requests.AccountRequest) -> None:
    assert requests.AccountRequest.read(account.params()) == account


KEYS = [
    requests.KeyRequest(public_key=KeyPair.generate().public_key),
    requests.KeyRequest(public_key=KeyPair.generate().public_key, scopes="read"),
    requests.KeyRequest(public_key=KeyPair.generate().public_key, scopes="read,trade"),
]


@pytest.mark.parametrize("key", KEYS)
def test_key_params_parse_back(key: requests.KeyRequest) -> None:
    assert requests.KeyRequest.read(key.params()) == key
    revoked = requests.KeyRef(public_key=key.public_key)
    assert requests.KeyRef.read(revoked.params()) == revoked


def test_scopes_read_as_sets() -> None:
    assert requests.scope_set("trade,read") == frozenset((Scope.READ, Scope.TRADE))
    assert requests.scope_set("") == frozenset()
    assert requests.scope_set(None) is None


TRANSFERS = [
    requests.DepositRequest(symbol="USDC", quantity=Decimal("1000")),
    requests.DepositRequest(symbol="SOL", quantity=Decimal("0.000000001"), transfer_id="t" * 64, account_id=2**63 - 1),
    requests.DepositRequest(
        symbol="USDC", quantity=Decimal("2.5"), address="sol" + "a" * 32, transaction_hash="~" * 128
    ),
]


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_transfer_params_parse_back(transfer: requests.DepositRequest) -> None:
    assert requests.DepositRequest.read(transfer.params()) == transfer


def test_a_withdrawal_never_names_another_account() -> None:
    params = TRANSFERS[1].params()
    assert "accountId" in params
    with pytest.raises(ApiError) as refused:
        requests.TransferRequest.read(params)
    assert (refused.value.status, refused.value.code) == (400, "INVALID_CLIENT_REQUEST")


WITHDRAWALS = [
    requests.WithdrawalRequest(symbol="SOL", quantity=Decimal("1.5"), address="So1Dest", blockchain="Solana"),
    requests.WithdrawalRequest(
        symbol="USDC",
        quantity=Decimal("0.000001"),
        address="0x" + "f" * 126,
        blockchain="Ethereum",
        client_id="c" * 64,
    ),
]


@pytest.mark.parametrize("withdrawal", WITHDRAWALS)
def test_withdrawal_params_parse_back(withdrawal: requests.WithdrawalRequest) -> None:
    assert requests.WithdrawalRequest.read(withdrawal.params()) == withdrawal


@pytest.mark.parametrize(
    "settlement", [requests.Settlement(id=1), requests.Settlement(id=2**63 - 1, transaction_hash="!")]
)
def test_settlement_params_parse_back(settlement: requests.Settlement) -> None:
    assert requests.Settlement.read(settlement.params()) == settlement


@pytest.mark.parametrize("asset", ASSETS, ids=lambda a: a.symbol)
def test_asset_params_parse_back(asset: Asset) -> None:
    chains = ",".join(asset.blockchains)
    listing = requests.AssetRequest(symbol=asset.symbol, decimals=asset.decimals, blockchains=chains)
    assert requests.AssetRequest.read(listing.params()).asset() == asset


@pytest.mark.parametrize("market", MARKETS, ids=lambda m: m.symbol)
def test_market_params_parse_back(market: Market) -> None:
    listing = requests.MarketRequest(
        symbol=market.symbol,
        base_symbol=market.base.symbol,
        quote_symbol=market.quote.symbol,
        tick_size=market.tick_size,
        step_size=market.step_size,
        min_quantity=market.min_quantity,
        maker_fee_bps=market.maker_fee_bps,
        taker_fee_bps=market.taker_fee_bps,
    )
    assert requests.MarketRequest.read(listing.params()) == listing


def test_a_market_without_a_symbol_is_named_base_quote() -> None:
    params = {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.1", "minQuantity": "0.1"}
    assert requests.MarketRequest.read(params).name == "SOL_USDC"
