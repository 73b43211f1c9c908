"""The wire module: strict decimal parsing, request parsing to commands, and encoders."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from exchange.api.errors import REJECTIONS
from exchange.demo import SOL_USDC
from exchange.engine.commands import PlaceOrder
from exchange.engine.numbers import InvalidInput
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.protocol import decoding, fields, replies, requests
from exchange.protocol.codes import ApiError
from tests.support.marketdata import make_ticker


def parse_order(params: decoding.Params, *, account_id: int, ts: int) -> PlaceOrder:
    return requests.parse_order(requests.OrderRequest.read(params), SOL_USDC, account_id=account_id, ts=ts)


def order(**fields: object) -> decoding.Params:
    return decoding.scalar_params(decoding.load_json(__import__("json").dumps(fields).encode()))


def code_of(call: object) -> str:
    assert callable(call)
    with pytest.raises((ApiError, InvalidInput)) as info:
        call()
    error = info.value
    if isinstance(error, InvalidInput):
        return REJECTIONS[error.reason][1]
    assert isinstance(error, ApiError)
    return error.code


def test_load_json_keeps_the_exact_text_of_numbers() -> None:
    body = decoding.load_json(b'{"price": 150.10, "quantity": "0.10", "clientId": 7, "postOnly": true}')
    assert body == {"price": "150.10", "quantity": "0.10", "clientId": "7", "postOnly": True}
    assert isinstance(body["price"], decoding.JsonNumber)


@pytest.mark.parametrize(
    "text",
    ["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029", "\u202e", "\u2066", "\ud800", "\udfff"],
)
def test_params_refuse_unprintable_text_in_names_and_values(text: str) -> None:
    for params in ({"label": f"a{text}b"}, {f"a{text}b": "x"}):
        assert code_of(lambda params=params: decoding.scalar_params(params)) == "INVALID_CLIENT_REQUEST"
    assert code_of(lambda: decoding.query_fields([("symbol", text)])) == "INVALID_CLIENT_REQUEST"


def test_params_take_printable_text_up_to_the_limit() -> None:
    text = "é Ж 中 🙂 \ufffd".ljust(decoding.MAX_TEXT_LENGTH, "x")
    assert decoding.scalar_params({"label": text, text: "1"}) == {"label": text, text: "1"}
    assert code_of(lambda: decoding.scalar_params({"label": text + "x"})) == "INVALID_CLIENT_REQUEST"
    assert code_of(lambda: decoding.query_fields([("a", "1"), ("a", "2")])) == "INVALID_CLIENT_REQUEST"


def test_a_refusal_of_bad_text_can_always_be_sent() -> None:
    with pytest.raises(ApiError) as info:
        decoding.scalar_params(decoding.load_json(b'{"\\ud800": []}'))
    assert info.value.message.isprintable()
    with pytest.raises(ApiError) as info:
        decoding.load_json(b'{"\\ud800": 1, "\\ud800": 2}')
    assert info.value.message.isprintable()


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8"])
def test_json_bodies_are_declared_json(content_type: str) -> None:
    decoding.check_media_type(content_type)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "json"])
def test_other_media_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(ApiError) as info:
        decoding.check_media_type(content_type)
    assert (info.value.status, info.value.code) == (415, "INVALID_CLIENT_REQUEST")


def klines(**params: str) -> tuple[str, int, int]:
    return requests.klines_window(requests.KlinesQuery.read({"symbol": "SOL_USDC", **params}), now=0)


def test_times_are_bounded_before_the_year_9999() -> None:
    last_s = str(decoding.MAX_TIME_MS // 1000)
    assert klines(interval="1m", startTime=last_s, endTime=last_s)[2] == int(last_s)
    for name in ("startTime", "endTime"):
        query = {"interval": "1m", "startTime": "0", name: str(int(last_s) + 1)}
        assert code_of(lambda query=query: klines(**query)) == "INVALID_CLIENT_REQUEST"
    wanted = requests.TransfersQuery.read({"to": str(decoding.MAX_TIME_MS)})
    window = requests.window(wanted.since, wanted.until)
    assert window[1] == decoding.MAX_TIME_MS * 1000 + 1000
    for name in ("from", "to"):
        params = {name: str(decoding.MAX_TIME_MS + 1)}
        assert code_of(lambda params=params: requests.TransfersQuery.read(params)) == "INVALID_CLIENT_REQUEST"


def test_klines_without_end_include_the_candle_opened_this_second() -> None:
    """A trade at the first second of a minute opens a candle starting at `now`: it is answered."""
    assert klines(interval="1m", startTime="0")[2] == 1
    assert klines(interval="1m", startTime="0", endTime="60")[2] == 60


def test_klines_end_before_start_is_a_range_error() -> None:
    assert code_of(lambda: klines(interval="1m", startTime="10", endTime="9")) == "INVALID_RANGE"


@pytest.mark.parametrize("body", [b"{", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1, "a": 2}', b"[" * 100_000])
def test_load_json_rejects_malformed_bodies(body: bytes) -> None:
    assert code_of(lambda: decoding.load_json(body)) == "INVALID_CLIENT_REQUEST"


@pytest.mark.parametrize(
    "text", ["1e5", "1E-3", "NaN", "Infinity", "", " 1", "+1", "0x10", "1.", ".5", "1" * 41, "\u0661", "-3", "0.00"]
)
def test_decimals_are_positive_and_in_plain_notation_only(text: str) -> None:
    with pytest.raises(ValueError):
        fields.positive(text)
    assert len(text) > fields.POSITIVE_TEXT["maxLength"] or not re.fullmatch(fields.POSITIVE_TEXT["pattern"], text)


def test_decimal_values_keep_their_exact_text() -> None:
    assert fields.positive("150.00") == Decimal("150")
    assert str(fields.positive(decoding.JsonNumber("0.10"))) == "0.10"
    with pytest.raises(ValueError):
        fields.positive(True)


def test_limit_order_to_command() -> None:
    params = order(
        symbol="SOL_USDC", side="Bid", orderType="Limit", price="150.5", quantity=2, clientId=9, postOnly=True
    )
    command = parse_order(params, account_id=3, ts=11)
    assert (command.price, command.quantity, command.client_id, command.post_only) == (15050, 200, 9, True)
    assert (command.side, command.order_type, command.time_in_force) == (Side.BID, OrderType.LIMIT, TimeInForce.GTC)
    assert command.self_trade_prevention is SelfTradePrevention.REJECT_TAKER
    assert (command.account_id, command.ts) == (3, 11)


def test_market_order_by_quote_quantity() -> None:
    params = order(symbol="SOL_USDC", side="Bid", orderType="Market", quoteQuantity="10.5")
    command = parse_order(params, account_id=1, ts=1)
    assert (command.quote_quantity, command.quantity, command.price) == (10_500_000, None, None)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"symbol": "DOGE/USDC"}, "INVALID_MARKET"),
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
    assert code_of(lambda: parse_order(params, account_id=1, ts=1)) == code


def test_market_order_needs_exactly_one_size() -> None:
    both = order(symbol="SOL_USDC", side="Ask", orderType="Market", quantity="1", quoteQuantity="1")
    assert code_of(lambda: parse_order(both, account_id=1, ts=1)) == "INVALID_CLIENT_REQUEST"


def test_scalar_params_rejects_nesting() -> None:
    assert code_of(lambda: decoding.scalar_params({"a": {"b": 1}})) == "INVALID_CLIENT_REQUEST"
    assert code_of(lambda: decoding.scalar_params([1])) == "INVALID_CLIENT_REQUEST"


def test_depth_sides_ascend_by_price() -> None:
    depth = replies.DEPTH.encode(replies.Book(SOL_USDC, 42, [(15000, 100), (14900, 5)], [(15100, 1)], 7))
    assert depth == {
        "asks": [["151.00", "0.01"]],
        "bids": [["149.00", "0.05"], ["150.00", "1.00"]],
        "lastUpdateId": "42",
        "timestamp": 7,
    }


def test_times() -> None:
    assert replies.naive_iso(1_753_624_283_415_123) == "2025-07-27T13:51:23.415"
    assert replies.kline_time(1_752_930_540) == "2025-07-19 13:09:00"
    assert fields.dec(Decimal("1E+2")) == "100"


def test_ticker_change_is_a_fraction() -> None:
    stats = make_ticker("SOL_USDC", ohlc=("100", "120", "90", "110"), volume="2", quote_volume="210", trades=2)
    fields = replies.ticker_fields("SOL_USDC", stats)
    assert (fields["priceChange"], fields["priceChangePercent"], fields["trades"]) == ("10", "0.100000", "2")
    assert replies.ticker_fields("SOL_USDC", None)["lastPrice"] == "0"


def test_a_json_number_is_not_text() -> None:
    """A number where a string is declared is refused, not taken for its text (it could not travel as one)."""
    body = b'{"symbol": "SOL", "quantity": 1, "blockchain": "Solana", "address": 12345}'
    params = decoding.scalar_params(decoding.load_json(body))
    assert code_of(lambda: requests.WithdrawalRequest.read(params)) == "INVALID_CLIENT_REQUEST"
    assert requests.WithdrawalRequest.read({**params, "address": "12345"}).quantity == 1
