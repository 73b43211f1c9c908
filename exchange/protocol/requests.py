"""Backpack's request parsers: from checked params to engine commands and typed queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from exchange import marketdata
from exchange.engine.commands import PlaceOrder
from exchange.engine.numbers import Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.protocol import replies
from exchange.protocol.codes import ApiError, Code, bad_request
from exchange.protocol.decoding import (
    MAX_TIME_MS,
    Scalar,
    only_fields,
    parse_bool,
    parse_decimal,
    parse_enum,
    parse_uint,
    required,
)


def parse_symbol(params: Mapping[str, Scalar], markets: Mapping[str, Market]) -> Market:
    """The market named by `symbol`, or 400 INVALID_MARKET."""
    symbol = required(params, "symbol")
    market = markets.get(symbol) if isinstance(symbol, str) else None
    if market is None:
        raise ApiError(400, Code.INVALID_MARKET, f"Invalid market symbol {symbol}")
    return market


_IGNORED_WHEN_FALSE = ("reduceOnly", "autoLend", "autoLendRedeem", "autoBorrow", "autoBorrowRepay")
_ORDER_FIELDS = frozenset(
    (
        "symbol",
        "side",
        "orderType",
        "price",
        "quantity",
        "quoteQuantity",
        "timeInForce",
        "postOnly",
        "selfTradePrevention",
        "clientId",
        "brokerId",
        *_IGNORED_WHEN_FALSE,
    )
)


def parse_order(params: Mapping[str, Scalar], markets: Mapping[str, Market], *, account_id: int, ts: int) -> PlaceOrder:
    """Turn an `OrderExecutePayload` into a `PlaceOrder` in engine units."""
    only_fields(params, _ORDER_FIELDS, "order")
    for name in _IGNORED_WHEN_FALSE:
        if params.get(name) is not None and parse_bool(params[name], name=name):
            raise bad_request(f"{name} is not supported on spot markets")
    market = parse_symbol(params, markets)
    side = parse_enum(Side, required(params, "side"), "side")
    order_type = parse_enum(OrderType, required(params, "orderType"), "orderType")
    price = params.get("price")
    quantity = params.get("quantity")
    quote_quantity = params.get("quoteQuantity")
    if order_type is OrderType.LIMIT and (price is None or quantity is None):
        raise bad_request("Limit orders must specify a `price` and a `quantity`")
    if order_type is OrderType.MARKET and (quantity is None) == (quote_quantity is None):
        raise bad_request("Market orders must specify a `quantity` or `quoteQuantity`")
    tif = params.get("timeInForce")
    stp = params.get("selfTradePrevention")
    post_only = params.get("postOnly")
    client_id = params.get("clientId")
    return PlaceOrder(
        account_id=account_id,
        symbol=market.symbol,
        side=side,
        order_type=order_type,
        price=None if price is None else market.ticks(parse_decimal(price, code=Code.INVALID_PRICE, name="price")),
        quantity=None
        if quantity is None
        else market.steps(parse_decimal(quantity, code=Code.INVALID_QUANTITY, name="quantity")),
        quote_quantity=None
        if quote_quantity is None
        else market.quote.atoms(parse_decimal(quote_quantity, code=Code.INVALID_QUANTITY, name="quoteQuantity")),
        time_in_force=TimeInForce.GTC if tif is None else parse_enum(TimeInForce, tif, "timeInForce"),
        post_only=False if post_only is None else parse_bool(post_only, name="postOnly"),
        self_trade_prevention=SelfTradePrevention.REJECT_TAKER
        if stp is None
        else parse_enum(SelfTradePrevention, stp, "selfTradePrevention"),
        client_id=None if client_id is None else parse_uint(client_id, name="clientId"),
        ts=ts,
    )


def parse_order_ref(params: Mapping[str, Scalar]) -> tuple[int | None, int | None]:
    """(orderId, clientId) of `OrderCancelPayload` / orderQuery: exactly one must be given."""
    order_id, client_id = params.get("orderId"), params.get("clientId")
    if (order_id is None) == (client_id is None):
        raise bad_request("Must specify either `clientId` or `orderId`")
    if order_id is not None:
        return parse_uint(order_id, name="orderId", maximum=2**63 - 1), None
    return None, parse_uint(client_id, name="clientId")


def parse_limit(params: Mapping[str, Scalar], *, default: int, maximum: int, name: str = "limit") -> int:
    """A positive page size, at most `maximum`."""
    value = params.get(name)
    if value is None:
        return default
    limit = parse_uint(value, name=name, maximum=maximum)
    if limit == 0:
        raise bad_request(f"{name} must be positive")
    return limit


# -- query parameters of the market-data and history routes --------------------------

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
MAX_KLINES = 1000
MONTH_SECONDS = 30 * 86_400
"""A month's nominal length, for the window of the newest `MAX_KLINES` monthly klines."""


def symbol_param(params: Mapping[str, Scalar]) -> Scalar | None:
    """The `symbol` a route names (the catalog decides whether it is a market)."""
    return params.get("symbol")


def parse_depth_limit(params: Mapping[str, Scalar]) -> int:
    """`/depth`'s `limit`: one of Backpack's `DEPTH_LIMITS`, the whole book's 1000 by default."""
    limit = parse_limit(params, default=1000, maximum=1000)
    if limit not in DEPTH_LIMITS:
        raise bad_request(f"limit must be one of {', '.join(map(str, DEPTH_LIMITS))}")
    return limit


def check_ticker_interval(params: Mapping[str, Scalar]) -> None:
    """Tickers are rolling 24-hour statistics: `interval` may only say `1d`."""
    if params.get("interval") not in (None, "1d"):
        raise bad_request("interval must be 1d")


@dataclass(frozen=True, slots=True)
class KlinesQuery:
    """`/klines`' parameters: the interval and `[start, end)` in seconds, at most `MAX_KLINES` intervals long."""

    interval: str
    start: int
    end: int


def parse_klines_query(params: Mapping[str, Scalar], *, now: int) -> KlinesQuery:
    """`interval`, `startTime` and `endTime` (seconds; `now` by default) of `/klines`, newest `MAX_KLINES` kept."""
    interval = params.get("interval")
    if not isinstance(interval, str) or interval not in marketdata.INTERVALS:
        raise bad_request(f"interval must be one of {', '.join(marketdata.INTERVALS)}")
    start = parse_uint(required(params, "startTime"), name="startTime", maximum=MAX_TIME_MS // 1000)
    end_param = params.get("endTime")
    end = now if end_param is None else parse_uint(end_param, name="endTime", maximum=MAX_TIME_MS // 1000)
    if params.get("priceType") not in (None, "Last"):
        raise bad_request("priceType must be Last")
    if end < start:
        raise ApiError(400, Code.INVALID_RANGE, "endTime must not be before startTime")
    seconds = marketdata.INTERVALS[interval].seconds or MONTH_SECONDS
    return KlinesQuery(interval=interval, start=max(start, end - seconds * MAX_KLINES), end=end)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of a newest-first listing: at most `limit` rows after skipping `offset`."""

    limit: int
    offset: int


def parse_page(params: Mapping[str, Scalar], *, paged: bool = True) -> Page:
    """`limit` (100 by default, at most 1000) and, where the route pages, `offset`."""
    offset = params.get("offset") if paged else None
    return Page(
        limit=parse_limit(params, default=100, maximum=1000),
        offset=0 if offset is None else parse_uint(offset, name="offset", maximum=10**9),
    )


SORT_DIRECTIONS = {"Desc": False, "Asc": True}
"""Backpack's `sortDirection` values and whether each lists oldest first."""


def parse_ascending(params: Mapping[str, Scalar]) -> bool:
    """`sortDirection` of the history and transfer listings: `Desc` (newest first, the default) or `Asc`."""
    direction = params.get("sortDirection", "Desc")
    if direction not in SORT_DIRECTIONS:
        raise bad_request(f"sortDirection must be one of {', '.join(SORT_DIRECTIONS)}")
    return SORT_DIRECTIONS[str(direction)]


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """The filters shared by the order and fill history routes."""

    symbol: Scalar | None
    order_id: int | None
    ascending: bool
    page: Page


def parse_history_query(params: Mapping[str, Scalar]) -> HistoryQuery:
    """`symbol`, `orderId`, `limit`, `offset` and `sortDirection` of `/wapi/v1/history/*`."""
    order_id = params.get("orderId")
    return HistoryQuery(
        symbol=symbol_param(params),
        order_id=None if order_id is None else parse_uint(order_id, name="orderId", maximum=2**63 - 1),
        ascending=parse_ascending(params),
        page=parse_page(params),
    )


@dataclass(frozen=True, slots=True)
class FillWindow:
    """The fill history's own filters: whether it asks for user fills at all, and `[start, end)` in µs."""

    user_fills: bool
    start: int | None
    end: int | None


def parse_ms_window(params: Mapping[str, Scalar]) -> tuple[int | None, int | None]:
    """`from`/`to` in ms, both ends included, as `[start, end)` in µs (None: unbounded)."""
    since, until = params.get("from"), params.get("to")
    return (
        None if since is None else parse_uint(since, name="from", maximum=MAX_TIME_MS) * 1000,
        None if until is None else parse_uint(until, name="to", maximum=MAX_TIME_MS) * 1000 + 1000,
    )


def parse_fill_window(params: Mapping[str, Scalar]) -> FillWindow:
    """`fillType` (only `User` fills exist here) and `from`/`to` in ms, both ends included."""
    start, end = parse_ms_window(params)
    return FillWindow(user_fills=params.get("fillType") in (None, "User"), start=start, end=end)


@dataclass(frozen=True, slots=True)
class TransferQuery:
    """`/wapi/v1/capital/deposits` and `/withdrawals`: `[start, end)` in µs, the order and a page."""

    start: int | None
    end: int | None
    ascending: bool
    page: Page


def parse_transfer_query(params: Mapping[str, Scalar]) -> TransferQuery:
    """`from`/`to` (ms, both ends included), `sortDirection`, `limit` (100 by default, at most 1000) and `offset`."""
    start, end = parse_ms_window(params)
    return TransferQuery(start=start, end=end, ascending=parse_ascending(params), page=parse_page(params))


def check_account_update(params: Mapping[str, Scalar]) -> None:
    """`PATCH /api/v1/account`: only a restatement of the spot settings; else 400 UNSUPPORTED_SETTING."""
    only_fields(params, replies.SPOT_SETTINGS, "account settings")
    for name, spot in replies.SPOT_SETTINGS.items():
        value = params.get(name)
        if value is None:
            continue
        if isinstance(spot, bool):
            same = parse_bool(value, name=name) is spot
        else:
            same = parse_decimal(value, code=Code.INVALID_CLIENT_REQUEST, name=name) == Decimal(spot)
        if not same:
            raise ApiError(
                400,
                Code.UNSUPPORTED_SETTING,
                f"{name} cannot be changed: this is a spot exchange without margin, lending or leverage "
                f"({name} is always {str(spot).lower()})",
            )
