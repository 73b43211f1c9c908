"""The wire module: strict decimal parsing, request parsing to commands, and encoders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.api import wire
from exchange.api.errors import ApiError
from exchange.demo import SOL_USDC
from exchange.engine.numbers import InvalidInput
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.persistence import queries

MARKETS = {"SOL_USDC": SOL_USDC}


def order(**fields: object) -> wire.Params:
    return wire.scalar_params(wire.load_json(__import__("json").dumps(fields).encode()))


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises((ApiError, InvalidInput)) as info:
        call()
    error = info.value
    assert isinstance(error, ApiError | InvalidInput)
    return error.code


def test_load_json_keeps_the_exact_text_of_numbers() -> None:
    body = wire.load_json(b'{"price": 150.10, "quantity": "0.10", "clientId": 7, "postOnly": true}')
    assert body == {"price": "150.10", "quantity": "0.10", "clientId": "7", "postOnly": True}
    assert isinstance(body["price"], wire.JsonNumber)


@pytest.mark.parametrize("body", [b"{", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1, "a": 2}', b"[" * 100_000])
def test_load_json_rejects_malformed_bodies(body: bytes) -> None:
    assert code_of(lambda: wire.load_json(body)) == "INVALID_CLIENT_REQUEST"


@pytest.mark.parametrize(
    "text", ["1e5", "1E-3", "NaN", "Infinity", "", " 1", "+1", "0x10", "1.", ".5", "1" * 41, "\u0661"]
)
def test_parse_decimal_accepts_plain_notation_only(text: str) -> None:
    assert code_of(lambda: wire.parse_decimal(text, code="INVALID_PRICE", name="price")) == "INVALID_PRICE"


def test_parse_decimal_values() -> None:
    assert wire.parse_decimal("150.00", code="X", name="p") == Decimal("150")
    assert wire.parse_decimal(wire.JsonNumber("-3"), code="X", name="p") == Decimal("-3")
    assert code_of(lambda: wire.parse_decimal(True, code="X", name="p")) == "X"


def test_limit_order_to_command() -> None:
    params = order(
        symbol="SOL_USDC", side="Bid", orderType="Limit", price="150.5", quantity=2, clientId=9, postOnly=True
    )
    command = wire.parse_order(params, MARKETS, account_id=3, ts=11)
    assert (command.price, command.quantity, command.client_id, command.post_only) == (15050, 200, 9, True)
    assert (command.side, command.order_type, command.time_in_force) == (Side.BID, OrderType.LIMIT, TimeInForce.GTC)
    assert command.self_trade_prevention is SelfTradePrevention.REJECT_TAKER
    assert (command.account_id, command.ts) == (3, 11)


def test_market_order_by_quote_quantity() -> None:
    params = order(symbol="SOL_USDC", side="Bid", orderType="Market", quoteQuantity="10.5")
    command = wire.parse_order(params, MARKETS, account_id=1, ts=1)
    assert (command.quote_quantity, command.quantity, command.price) == (10_500_000, None, None)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"symbol": "DOGE_USDC"}, "INVALID_MARKET"),
        ({"price": "150.001"}, "INVALID_PRICE"),
        ({"quantity": "0.001"}, "INVALID_QUANTITY"),
        ({"price": "-1"}, "INVALID_PRICE"),
        ({"price": "0"}, "INVALID_PRICE"),
        ({"quantity": "0"}, "INVALID_QUANTITY"),
        ({"price": "1e3"}, "INVALID_PRICE"),
        ({"quantity": "9" * 41}, "INVALID_QUANTITY"),
        ({"side": "Buy"}, "INVALID_CLIENT_REQUEST"),
        ({"price": None}, "INVALID_CLIENT_REQUEST"),
        ({"triggerPrice": "1"}, "INVALID_CLIENT_REQUEST"),
        ({"reduceOnly": True}, "INVALID_CLIENT_REQUEST"),
        ({"clientId": 2**32}, "INVALID_CLIENT_REQUEST"),
        ({"clientId": -1}, "INVALID_CLIENT_REQUEST"),
        ({"postOnly": "yes"}, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_bad_orders_have_their_codes(fields: dict[str, object], code: str) -> None:
    base: dict[str, object] = {
        "symbol": "SOL_USDC",
        "side": "Bid",
        "orderType": "Limit",
        "price": "150",
        "quantity": "1",
    }
    params = order(**{**base, **fields})
    assert code_of(lambda: wire.parse_order(params, MARKETS, account_id=1, ts=1)) == code


def test_market_order_needs_exactly_one_size() -> None:
    both = order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="1", quoteQuantity="1")
    assert code_of(lambda: wire.parse_order(both, MARKETS, account_id=1, ts=1)) == "INVALID_CLIENT_REQUEST"


def test_scalar_params_rejects_nesting() -> None:
    assert code_of(lambda: wire.scalar_params({"a": {"b": 1}})) == "INVALID_CLIENT_REQUEST"
    assert code_of(lambda: wire.scalar_params([1])) == "INVALID_CLIENT_REQUEST"


def test_depth_sides_ascend_by_price() -> None:
    depth = wire.depth_fields(SOL_USDC, sequence=42, bids=[(15000, 100), (14900, 5)], asks=[(15100, 1)], ts=7)
    assert depth == {
        "asks": [["151.00", "0.01"]],
        "bids": [["149.00", "0.05"], ["150.00", "1.00"]],
        "lastUpdateId": "42",
        "timestamp": 7,
    }


def test_times() -> None:
    assert wire.naive_iso(1_753_624_283_415_123) == "2025-07-27T13:51:23.415"
    assert wire.kline_time(1_752_930_540) == "2025-07-19 13:09:00"
    assert wire.dec(Decimal("1E+2")) == "100"


def test_ticker_change_is_a_fraction() -> None:
    stats = queries.Ticker(
        symbol="SOL_USDC",
        first_price=Decimal("100"),
        last_price=Decimal("110"),
        high=Decimal("120"),
        low=Decimal("90"),
        volume=Decimal("2"),
        quote_volume=Decimal("210"),
        trades=2,
    )
    fields = wire.ticker_fields("SOL_USDC", stats)
    assert (fields["priceChange"], fields["priceChangePercent"], fields["trades"]) == ("10", "0.100000", "2")
    assert wire.ticker_fields("SOL_USDC", None)["lastPrice"] == "0"
