"""The wire format: the one module that knows the JSON field names of the HTTP and websocket API.

Everything that crosses the wire is built or parsed here, so the REST routes, the
websocket streams and the clients cannot drift apart. In order: request decoding and
the parsers that turn Backpack's requests into engine commands (`parse_order`...);
REST reply encoders (`order_fields`, `trade_fields`, `depth_fields`, `ticker_fields`,
batch results...); websocket payloads, which share the REST helpers (`depth_levels`,
`dec`, `kline_stream_time`...); the project's own routes beside Backpack's (accounts,
keys, transfers, listings, halts: parsers returning small typed values, and their replies);
and the client side, the builders and readers a client uses, each the tested inverse
of a parser or an encoder.

Types and units follow Backpack (docs.backpack.exchange and its clients, ccxt among them): every price, quantity
and amount is a decimal *string* in plain notation; ids of orders are strings, ids of
trades numbers; `clientId` is a uint32 number; live order `createdAt` and public trade
`timestamp` are integer milliseconds, depth `timestamp` is integer microseconds, and
history (`/wapi/v1/history/...`, `/wapi/v1/capital/deposits` and `/withdrawals`) uses
naive UTC ISO strings with milliseconds. Deposits and withdrawals are numbered in commit
order (`id`), and carry the ledger's transfer id, the one a deposit or withdrawal
request answers with, as their `identifier`.

Parsing is strict. A request body is decoded with `load_json`, which keeps the exact
text of every JSON number (so "0.10" stays "0.10" for the signature and for exact
conversion) and rejects NaN, Infinity and duplicate keys; it must be sent as
`application/json` (`check_media_type`: 415 otherwise). Every request's params, the
body object's or the query string's, then pass through `scalar_params`, the one gate
for text: each name and each value must be at most `MAX_TEXT_LENGTH` characters with
no control character (C0, DEL, C1), line or paragraph separator, bidirectional
override, or lone UTF-16 surrogate (`check_text`), or the request is a 400 INVALID_CLIENT_REQUEST. That happens
before the signature is checked and before anything is queued or stored, so no text a
client sends can break the signing payload, an error reply, a log line or a database
write (PostgreSQL refuses NUL in text). Fields with tighter rules (symbols, transfer ids,
labels, public keys) check them in their parsers, with the limits declared below. Every
time a request names is at most `MAX_TIME_MS`, a year before the last moment a
`datetime` can hold, so no window or candle computed from it overflows (400 otherwise).
`parse_decimal` accepts a JSON string or number only in plain decimal form (no
exponent, no sign but a leading minus, at most `MAX_NUMBER_LENGTH` characters);
anything else is a 400 with the code of the field. Converting the decimal to ticks, steps or atoms (and rejecting values
off the tick or the step) is left to `exchange.engine.numbers`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from exchange import marketdata
from exchange.api.auth import ApiKey, Scope, decode_public_key
from exchange.api.errors import ApiError
from exchange.engine.commands import PlaceOrder
from exchange.engine.events import Event, OrderAccepted, OrderCancelled, OrderExpired, OrderFilled, TradeExecuted
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import (
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from exchange.engine.queries import OrderView
from exchange.persistence import queries

MAX_NUMBER_LENGTH = 40
UINT32_MAX = 2**32 - 1
BAD_REQUEST = "INVALID_CLIENT_REQUEST"
MAX_TEXT_LENGTH = 256
"""The longest text any param name or value may be; fields with tighter limits declare them below."""
FORBIDDEN_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
"""The ranges no text may hold (a regex class body): control characters (C0, DEL, C1), line and
paragraph separators, bidirectional embeddings, overrides and isolates (which reorder what a
log or a page shows), and lone UTF-16 surrogates."""
_FORBIDDEN_TEXT = re.compile(f"[{FORBIDDEN_CHARACTERS}]")
JSON_MEDIA_TYPE = "application/json"
MAX_TIME_MS = 253_370_764_800_000
"""9999-01-01T00:00:00Z, the latest time a request may name (in ms; klines' seconds are bounded by it too)."""

Json = dict[str, Any]
E = TypeVar("E", Side, OrderType, TimeInForce, SelfTradePrevention)


# -- decoding requests ---------------------------------------------------------------


class JsonNumber(str):
    """The exact source text of a JSON number (a `str`, so it signs and parses verbatim)."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {check_text(key, 'a field name')}")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(
    parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
)


def check_text(value: str, name: str) -> str:
    """`value` if it is at most `MAX_TEXT_LENGTH` characters of printable text; 400 otherwise."""
    if len(value) > MAX_TEXT_LENGTH:
        raise ApiError(400, BAD_REQUEST, f"{name} is longer than {MAX_TEXT_LENGTH} characters")
    if _FORBIDDEN_TEXT.search(value):
        raise ApiError(400, BAD_REQUEST, f"{name} contains a control character or a lone surrogate")
    return value


def check_media_type(content_type: str | None) -> None:
    """A request body must be declared JSON (any charset): 415 otherwise, so no other form is read as JSON."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise ApiError(415, BAD_REQUEST, f"the body must be sent as Content-Type: {JSON_MEDIA_TYPE}")


def load_json(body: bytes) -> Any:
    """Decode a request body, keeping numbers as their exact text; raise ApiError 400 if malformed."""
    try:
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as error:
        raise ApiError(400, BAD_REQUEST, f"malformed JSON body: {error}") from None


Scalar = str | bool | None
Params = dict[str, Scalar]


def scalar_params(value: Any) -> Params:
    """Check that a decoded body is a flat JSON object of scalars (what Backpack can sign), all of it `check_text`."""
    if not isinstance(value, dict):
        raise ApiError(400, BAD_REQUEST, "the body must be a JSON object")
    for key, item in value.items():
        check_text(key, "a field name")
        if isinstance(item, str):
            check_text(item, f"field {key}")
        elif not (item is None or isinstance(item, bool)):
            raise ApiError(400, BAD_REQUEST, f"field {key} must be a string, number or boolean")
    return value


def query_fields(items: Sequence[tuple[str, str]]) -> Params:
    """A query string's (name, value) pairs as flat params, through `scalar_params`; a repeated name is a 400."""
    params: Params = dict(items)
    if len(params) != len(items):
        raise ApiError(400, BAD_REQUEST, "a query parameter is repeated")
    return scalar_params(params)


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_decimal(value: object, *, code: str, name: str) -> Decimal:
    """A decimal from a JSON string or number in plain notation; ApiError(400, code) otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ApiError(400, code, f"{name} must be a decimal string")
    if len(value) > MAX_NUMBER_LENGTH:
        raise ApiError(400, code, f"{name} is longer than {MAX_NUMBER_LENGTH} characters")
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise ApiError(400, code, f"{name} must be a plain decimal like 12.5, got {value!r}")
    return Decimal(value)


def parse_uint(value: object, *, name: str, maximum: int = UINT32_MAX) -> int:
    """A non-negative integer from a JSON number or digit string, at most `maximum`."""
    if isinstance(value, bool) or not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ApiError(400, BAD_REQUEST, f"{name} must be a non-negative integer")
    if len(value) > MAX_NUMBER_LENGTH or int(value) > maximum:
        raise ApiError(400, BAD_REQUEST, f"{name} must be at most {maximum}")
    return int(value)


def parse_bool(value: object, *, name: str) -> bool:
    """A boolean from JSON true/false or the query strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ApiError(400, BAD_REQUEST, f"{name} must be true or false")


def parse_enum(kind: type[E], value: object, name: str) -> E:
    """One of an enum's wire values."""
    for member in kind:
        if value == member.value:
            return member
    allowed = ", ".join(m.value for m in kind)
    raise ApiError(400, BAD_REQUEST, f"{name} must be one of {allowed}")


def required(params: Mapping[str, Scalar], name: str) -> Scalar:
    """A field that must be present (and not null)."""
    value = params.get(name)
    if value is None:
        raise ApiError(400, BAD_REQUEST, f"missing field {name}")
    return value


def only_fields(params: Mapping[str, Scalar], allowed: Iterable[str], what: str) -> None:
    """Refuse fields a request does not take, so a client never believes an ignored field was heeded."""
    unknown = sorted(set(k for k, v in params.items() if v is not None) - set(allowed))
    if unknown:
        raise ApiError(400, BAD_REQUEST, f"unsupported {what} fields: {', '.join(unknown)}")


def parse_symbol(params: Mapping[str, Scalar], markets: Mapping[str, Market]) -> Market:
    """The market named by `symbol`, or 400 INVALID_MARKET."""
    symbol = required(params, "symbol")
    market = markets.get(symbol) if isinstance(symbol, str) else None
    if market is None:
        raise ApiError(400, "INVALID_MARKET", f"Invalid market symbol {symbol}")
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
            raise ApiError(400, BAD_REQUEST, f"{name} is not supported on spot markets")
    market = parse_symbol(params, markets)
    side = parse_enum(Side, required(params, "side"), "side")
    order_type = parse_enum(OrderType, required(params, "orderType"), "orderType")
    price = params.get("price")
    quantity = params.get("quantity")
    quote_quantity = params.get("quoteQuantity")
    if order_type is OrderType.LIMIT and (price is None or quantity is None):
        raise ApiError(400, BAD_REQUEST, "Limit orders must specify a `price` and a `quantity`")
    if order_type is OrderType.MARKET and (quantity is None) == (quote_quantity is None):
        raise ApiError(400, BAD_REQUEST, "Market orders must specify a `quantity` or `quoteQuantity`")
    tif = params.get("timeInForce")
    stp = params.get("selfTradePrevention")
    post_only = params.get("postOnly")
    client_id = params.get("clientId")
    return PlaceOrder(
        account_id=account_id,
        symbol=market.symbol,
        side=side,
        order_type=order_type,
        price=None if price is None else market.ticks(parse_decimal(price, code="INVALID_PRICE", name="price")),
        quantity=None
        if quantity is None
        else market.steps(parse_decimal(quantity, code="INVALID_QUANTITY", name="quantity")),
        quote_quantity=None
        if quote_quantity is None
        else market.quote.atoms(parse_decimal(quote_quantity, code="INVALID_QUANTITY", name="quoteQuantity")),
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
        raise ApiError(400, BAD_REQUEST, "Must specify either `clientId` or `orderId`")
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
        raise ApiError(400, BAD_REQUEST, f"{name} must be positive")
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
        raise ApiError(400, BAD_REQUEST, f"limit must be one of {', '.join(map(str, DEPTH_LIMITS))}")
    return limit


def check_ticker_interval(params: Mapping[str, Scalar]) -> None:
    """Tickers are rolling 24-hour statistics: `interval` may only say `1d`."""
    if params.get("interval") not in (None, "1d"):
        raise ApiError(400, BAD_REQUEST, "interval must be 1d")


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
        raise ApiError(400, BAD_REQUEST, f"interval must be one of {', '.join(marketdata.INTERVALS)}")
    start = parse_uint(required(params, "startTime"), name="startTime", maximum=MAX_TIME_MS // 1000)
    end_param = params.get("endTime")
    end = now if end_param is None else parse_uint(end_param, name="endTime", maximum=MAX_TIME_MS // 1000)
    if params.get("priceType") not in (None, "Last"):
        raise ApiError(400, BAD_REQUEST, "priceType must be Last")
    if end < start:
        raise ApiError(400, "INVALID_RANGE", "endTime must not be before startTime")
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
        raise ApiError(400, BAD_REQUEST, f"sortDirection must be one of {', '.join(SORT_DIRECTIONS)}")
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


def status_fields(ready: bool) -> Json:
    """`/status`: `Ok`, or `Maintenance` while the engine is halted."""
    return {"status": "Ok" if ready else "Maintenance", "message": None if ready else "engine halted"}


# -- numbers and times on the wire ---------------------------------------------------


def dec(value: Decimal) -> str:
    """A decimal in plain notation, exactly as stored (never exponent notation)."""
    return format(value, "f")


def naive_iso(micros: int) -> str:
    """Naive UTC ISO-8601 with milliseconds, as Backpack's history endpoints write times."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def kline_time(seconds: int) -> str:
    """A kline boundary as Backpack's REST writes it: "YYYY-MM-DD HH:MM:SS" (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def kline_stream_time(seconds: int) -> str:
    """A kline boundary as Backpack's stream writes it: naive ISO without fraction."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- catalog ------------------------------------------------------------------------


def asset_fields(asset: Asset) -> Json:
    """`MarketAsset`: one asset with one token (our ledger is the only 'chain')."""
    return {
        "symbol": asset.symbol,
        "displayName": asset.symbol,
        "coingeckoId": None,
        "tokens": [
            {
                "displayName": asset.symbol,
                "blockchain": "Solana",
                "contractAddress": None,
                "depositEnabled": True,
                "minimumDeposit": "0",
                "withdrawEnabled": True,
                "minimumWithdrawal": "0",
                "maximumWithdrawal": None,
                "withdrawalFee": "0",
                "nativeDecimals": asset.decimals,
            }
        ],
    }


def _book_state(halted: bool) -> str:
    return "CancelOnly" if halted else "Open"


def market_fields(market: Market, *, halted: bool, created_at: int) -> Json:
    """`Market`: a spot market with its price and quantity filters."""
    return {
        "symbol": market.symbol,
        "baseSymbol": market.base.symbol,
        "quoteSymbol": market.quote.symbol,
        "marketType": "SPOT",
        "filters": {
            "price": {"minPrice": dec(market.tick_size), "maxPrice": None, "tickSize": dec(market.tick_size)},
            "quantity": {
                "minQuantity": dec(market.min_quantity),
                "maxQuantity": None,
                "stepSize": dec(market.step_size),
            },
        },
        "orderBookState": _book_state(halted),
        "createdAt": naive_iso(created_at),
        "visible": True,
        "makerFeeBps": market.maker_fee_bps,
        "takerFeeBps": market.taker_fee_bps,
    }


# -- market data --------------------------------------------------------------------

Levels = Sequence[tuple[int, int]]


def depth_levels(market: Market, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    """`[[price, quantity], ...]` from (ticks, steps) pairs, in the order given."""
    return [[dec(market.price(p)), dec(market.quantity(q))] for p, q in levels]


def depth_fields(market: Market, *, sequence: int, bids: Levels, asks: Levels, ts: int) -> Json:
    """`Depth`: both sides ascending by price (best bid last), `lastUpdateId` a string, µs timestamp."""
    return {
        "asks": depth_levels(market, asks),
        "bids": depth_levels(market, reversed(bids)),
        "lastUpdateId": str(sequence),
        "timestamp": ts,
    }


def ticker_fields(symbol: str, ticker: marketdata.Ticker | None) -> Json:
    """`Ticker`: 24h rolling statistics (zeros for a market without trades); `priceChangePercent` is a fraction."""
    if ticker is None:
        zero = {"firstPrice": "0", "lastPrice": "0", "priceChange": "0", "priceChangePercent": "0", "high": "0"}
        return {"symbol": symbol, **zero, "low": "0", "volume": "0", "quoteVolume": "0", "trades": "0"}
    return {
        "symbol": symbol,
        "firstPrice": dec(ticker.first_price),
        "lastPrice": dec(ticker.last_price),
        "priceChange": dec(ticker.price_change),
        "priceChangePercent": dec(ticker.price_change_fraction),
        "high": dec(ticker.high),
        "low": dec(ticker.low),
        "volume": dec(ticker.volume),
        "quoteVolume": dec(ticker.quote_volume),
        "trades": str(ticker.trades),
    }


def kline_fields(kline: marketdata.Kline) -> Json:
    """`Kline` of REST `/api/v1/klines`: every value a string, boundaries "YYYY-MM-DD HH:MM:SS"."""
    return {
        "start": kline_time(kline.start // 1_000_000),
        "end": kline_time(kline.end // 1_000_000),
        "open": dec(kline.open),
        "high": dec(kline.high),
        "low": dec(kline.low),
        "close": dec(kline.close),
        "volume": dec(kline.volume),
        "quoteVolume": dec(kline.quote_volume),
        "trades": str(kline.trades),
    }


def trade_fields(trade: queries.Trade) -> Json:
    """`Trade` of `/api/v1/trades`: numeric id, ms timestamp."""
    return {
        "id": trade.id,
        "price": dec(trade.price),
        "quantity": dec(trade.quantity),
        "quoteQuantity": dec(trade.quote_quantity),
        "timestamp": trade.ts // 1000,
        "isBuyerMaker": trade.is_buyer_maker,
    }


# -- orders, fills, balances ---------------------------------------------------------


def stored_order(row: queries.Order, market: Market) -> OrderView:
    """Back to engine units from a stored order (exact: it was written from them)."""
    spec = row.spec(market)
    executed, executed_quote = row.executed(market)
    return OrderView(spec=spec, status=OrderStatus(row.status), executed=executed, executed_quote=executed_quote)


def order_after(events: Sequence[Event], order_id: int) -> OrderView | None:
    """The state of order `order_id` after a command's events (None if they never mention it)."""
    view: OrderView | None = None
    for event in events:
        if isinstance(event, OrderAccepted) and event.order.id == order_id:
            view = OrderView(spec=event.order, status=OrderStatus.NEW, executed=0, executed_quote=0)
        elif isinstance(event, OrderFilled) and event.order.id == order_id:
            view = OrderView(
                spec=event.order, status=event.status, executed=event.executed, executed_quote=event.executed_quote
            )
        elif isinstance(event, OrderCancelled | OrderExpired) and event.order.id == order_id:
            status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.EXPIRED
            view = OrderView(
                spec=event.order, status=status, executed=event.executed, executed_quote=event.executed_quote
            )
    return view


def closed_orders(events: Sequence[Event]) -> list[OrderView]:
    """The orders a cancel command closed, in event order."""
    return [
        OrderView(
            spec=e.order,
            status=OrderStatus.CANCELLED if isinstance(e, OrderCancelled) else OrderStatus.EXPIRED,
            executed=e.executed,
            executed_quote=e.executed_quote,
        )
        for e in events
        if isinstance(e, OrderCancelled | OrderExpired)
    ]


NULL_ORDER_FIELDS = (
    "reduceOnly",
    "relatedOrderId",
    "stopLossLimitPrice",
    "stopLossTriggerBy",
    "stopLossTriggerPrice",
    "strategyId",
    "takeProfitLimitPrice",
    "takeProfitTriggerBy",
    "takeProfitTriggerPrice",
    "triggerBy",
    "triggerPrice",
    "triggerQuantity",
)


def order_fields(view: OrderView, market: Market, *, history: bool = False) -> Json:
    """`OrderType` (live: `createdAt` ms) or, with `history`, `Order` (`createdAt` naive ISO)."""
    spec = view.spec
    fields: Json = {
        "id": str(spec.id),
        "clientId": spec.client_id,
        "createdAt": naive_iso(spec.created_at) if history else spec.created_at // 1000,
        "executedQuantity": dec(market.quantity(view.executed)),
        "executedQuoteQuantity": dec(market.quote.amount(view.executed_quote)),
        "orderType": spec.order_type.value,
        "postOnly": spec.post_only,
        "price": None if spec.price is None else dec(market.price(spec.price)),
        "quantity": None if spec.quantity is None else dec(market.quantity(spec.quantity)),
        "quoteQuantity": None if spec.quote_quantity is None else dec(market.quote.amount(spec.quote_quantity)),
        "selfTradePrevention": spec.self_trade_prevention.value,
        "side": spec.side.value,
        "status": view.status.value,
        "symbol": spec.symbol,
        "timeInForce": spec.time_in_force.value,
    }
    for name in NULL_ORDER_FIELDS:
        fields[name] = None
    if history:
        fields["expiryReason"] = None
        fields["systemOrderType"] = None
    else:
        fields["triggeredAt"] = None
    return fields


def fill_fields(fill: queries.Fill) -> Json:
    """`OrderFill`: naive ISO timestamp, string order id, numeric trade id."""
    return {
        "clientId": None,
        "fee": dec(fill.fee),
        "feeSymbol": fill.fee_asset,
        "isMaker": fill.is_maker,
        "orderId": str(fill.order_id),
        "price": dec(fill.price),
        "quantity": dec(fill.quantity),
        "side": fill.side,
        "symbol": fill.symbol,
        "systemOrderType": None,
        "timestamp": naive_iso(fill.ts),
        "tradeId": fill.trade_id,
    }


TRANSFER_STATUS = "confirmed"
"""Backpack's status of a settled deposit or withdrawal (ccxt reads it as `ok`); a ledger transfer settles at once."""
DEPOSIT_SOURCE = "administrator"
"""Backpack's deposit `source` for a credit that did not arrive on a chain: the faucet and the operator's on-ramp."""


def deposit_fields(transfer: queries.Transfer) -> Json:
    """`Deposit` of `/wapi/v1/capital/deposits`: no chain, so addresses and hash are null; naive ISO `createdAt`."""
    return {
        "id": transfer.id,
        "toAddress": None,
        "fromAddress": None,
        "confirmationBlockNumber": None,
        "identifier": transfer.transfer_id,
        "source": DEPOSIT_SOURCE,
        "status": TRANSFER_STATUS,
        "transactionHash": None,
        "subaccountId": None,
        "symbol": transfer.asset,
        "quantity": dec(transfer.amount),
        "createdAt": naive_iso(transfer.ts),
        "fiatAmount": None,
        "fiatCurrency": None,
        "institutionBic": None,
        "platformMemo": None,
    }


def withdrawal_fields(transfer: queries.Transfer) -> Json:
    """`Withdrawal` of `/wapi/v1/capital/withdrawals`: no chain (blockchain, address, hash null), fee "0"."""
    return {
        "id": transfer.id,
        "blockchain": None,
        "clientId": None,
        "identifier": transfer.transfer_id,
        "quantity": dec(transfer.amount),
        "fee": "0",
        "symbol": transfer.asset,
        "status": TRANSFER_STATUS,
        "subaccountId": None,
        "toAddress": None,
        "transactionHash": None,
        "createdAt": naive_iso(transfer.ts),
        "isInternal": False,
        "triggerAt": None,
        "accountIdentifier": None,
        "bankIdentifier": None,
        "bankName": None,
        "fiatFee": None,
        "fiatState": None,
        "fiatSymbol": None,
        "providerId": None,
    }


def balance_fields(assets: Mapping[str, Asset], balances: Mapping[str, tuple[int, int]]) -> Json:
    """`/api/v1/capital`: `{asset: {available, locked, staked}}` for every asset held."""
    return {
        symbol: {
            "available": dec(assets[symbol].amount(available)),
            "locked": dec(assets[symbol].amount(locked)),
            "staked": "0",
        }
        for symbol, (available, locked) in sorted(balances.items())
    }


def error_fields(code: str, message: str) -> Json:
    """`ApiErrorResponse`."""
    return {"code": code, "message": message}


def batch_ok(fields: Json) -> Json:
    """One item of `POST /api/v1/orders` that succeeded: the order's fields tagged `"operation": "Ok"`."""
    return {"operation": "Ok", **fields}


def batch_err(code: str, message: str) -> Json:
    """One item of `POST /api/v1/orders` that failed: an `ApiErrorResponse` tagged `"operation": "Err"`."""
    return {"operation": "Err", **error_fields(code, message)}


# == websocket streams ================================================================
#
# Payloads of Backpack's streams: one-letter keys, `E` (when the frame was made) and
# `T` (the engine's time of the event) in integer microseconds, prices and quantities
# as decimal strings, `U`/`u`/`t`/`n` as numbers. Each function returns the `data`
# object; `stream_frame` wraps it in the envelope, once per stream and not per client.

WS_PARSE_ERROR = 4002
WS_INVALID_SIGNATURE = 4003
WS_INVALID_STREAM = 4006
WS_INVALID_DEPTH_WINDOW = 4008


def stream_frame(stream: str, data: Json) -> str:
    """The text of one data frame: `{"data": ..., "stream": ...}`."""
    return orjson.dumps({"data": data, "stream": stream}).decode()


def stream_error_frame(code: int, message: str) -> str:
    """The text of an error frame, as Backpack sends them (`id` always null)."""
    return orjson.dumps({"id": None, "error": {"code": code, "message": message}}).decode()


def depth_update_fields(
    market: Market, *, first: int, last: int, bids: Levels, asks: Levels, engine_ts: int, now: int
) -> Json:
    """`depth`: absolute totals of the levels touched in updates `first..last`; "0" removes a level."""
    return {
        "e": "depth",
        "E": now,
        "s": market.symbol,
        "a": depth_levels(market, asks),
        "b": depth_levels(market, bids),
        "U": first,
        "u": last,
        "T": engine_ts,
    }


def book_ticker_fields(
    market: Market,
    *,
    bid: tuple[int, int] | None,
    ask: tuple[int, int] | None,
    sequence: int,
    engine_ts: int,
    now: int,
) -> Json:
    """`bookTicker`: best bid and ask with their quantities (null for an empty side), `u` the depth sequence."""
    return {
        "e": "bookTicker",
        "E": now,
        "s": market.symbol,
        "a": None if ask is None else dec(market.price(ask[0])),
        "A": None if ask is None else dec(market.quantity(ask[1])),
        "b": None if bid is None else dec(market.price(bid[0])),
        "B": None if bid is None else dec(market.quantity(bid[1])),
        "u": sequence,
        "T": engine_ts,
    }


def trade_update_fields(market: Market, trade: TradeExecuted, *, now: int) -> Json:
    """`trade`: `b`/`a` the buyer's and seller's order ids, `m` true when the buyer was the maker."""
    taker_bought = trade.taker_side is Side.BID
    buyer, seller = (
        (trade.taker_order_id, trade.maker_order_id) if taker_bought else (trade.maker_order_id, trade.taker_order_id)
    )
    return {
        "e": "trade",
        "E": now,
        "s": market.symbol,
        "p": dec(market.price(trade.price)),
        "q": dec(market.quantity(trade.quantity)),
        "b": str(buyer),
        "a": str(seller),
        "t": trade.id,
        "m": trade.is_buyer_maker,
        "T": trade.ts,
    }


def ticker_update_fields(ticker: marketdata.Ticker, *, now: int) -> Json:
    """`ticker`: 24h first/last/high/low, base and quote volume, trade count."""
    return {
        "e": "ticker",
        "E": now,
        "s": ticker.symbol,
        "o": dec(ticker.first_price),
        "c": dec(ticker.last_price),
        "h": dec(ticker.high),
        "l": dec(ticker.low),
        "v": dec(ticker.volume),
        "V": dec(ticker.quote_volume),
        "n": ticker.trades,
    }


def kline_update_fields(symbol: str, kline: marketdata.Kline, *, closed: bool, now: int) -> Json:
    """`kline`: `t`/`T` the candle's start and end as naive ISO strings, `X` true once it is closed."""
    return {
        "e": "kline",
        "E": now,
        "s": symbol,
        "t": kline_stream_time(kline.start // 1_000_000),
        "T": kline_stream_time(kline.end // 1_000_000),
        "o": dec(kline.open),
        "c": dec(kline.close),
        "h": dec(kline.high),
        "l": dec(kline.low),
        "v": dec(kline.volume),
        "n": kline.trades,
        "X": closed,
    }


OrderUpdate = OrderAccepted | OrderFilled | OrderCancelled | OrderExpired


def order_update_fields(event: OrderUpdate, market: Market, *, now: int) -> Json:
    """`account.orderUpdate`: orderAccepted, orderFill, orderCancelled or orderExpired with Backpack's letters."""
    spec = event.order
    fields: Json = {"e": "", "E": now, "s": spec.symbol}
    if spec.client_id is not None:
        fields["c"] = spec.client_id
    fields.update(
        {
            "S": spec.side.value,
            "o": spec.order_type.value.upper(),
            "f": spec.time_in_force.value,
            "V": spec.self_trade_prevention.value,
            "y": spec.post_only,
            "r": False,
            "O": "USER",
            "i": str(spec.id),
        }
    )
    if spec.quantity is not None:
        fields["q"] = dec(market.quantity(spec.quantity))
    if spec.quote_quantity is not None:
        fields["Q"] = dec(market.quote.amount(spec.quote_quantity))
    if spec.price is not None:
        fields["p"] = dec(market.price(spec.price))
    if isinstance(event, OrderAccepted):
        fields.update(e="orderAccepted", X=OrderStatus.NEW.value, z="0", Z="0")
    else:
        fields["z"] = dec(market.quantity(event.executed))
        fields["Z"] = dec(market.quote.amount(event.executed_quote))
    if isinstance(event, OrderFilled):
        fee_asset = market.base if event.fee_asset == market.base.symbol else market.quote
        fields.update(
            e="orderFill",
            X=event.status.value,
            t=event.trade_id,
            l=dec(market.quantity(event.quantity)),
            L=dec(market.price(event.price)),
            m=event.is_maker,
            n=dec(fee_asset.amount(event.fee)),
            N=fee_asset.symbol,
        )
    elif isinstance(event, OrderCancelled):
        fields.update(e="orderCancelled", X=OrderStatus.CANCELLED.value)
    elif isinstance(event, OrderExpired):
        fields.update(e="orderExpired", X=OrderStatus.EXPIRED.value, R=event.reason.value)
    fields["T"] = event.ts
    return fields


def balance_update_fields(asset: Asset, *, available: int, locked: int, engine_ts: int, now: int) -> Json:
    """`account.balanceUpdate`: the asset's absolute available (`A`), locked (`L`) and staked (`S`) amounts."""
    return {
        "e": "balanceUpdate",
        "E": now,
        "a": asset.symbol,
        "A": dec(asset.amount(available)),
        "L": dec(asset.amount(locked)),
        "S": "0",
        "T": engine_ts,
    }


# == the project's own routes =========================================================
#
# Accounts, keys, transfers, listings and halts (exchange/api/own.py) are ours, not Backpack's,
# but their bodies follow the same conventions: camelCase names, decimal strings, ids
# as strings in requests. The parsers check form only and return small typed values;
# the routes do the lookups (assets, markets) and the authorisation.


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRequest:
    """`accountCreate`: the new key, the scopes asked for (None: the default) and a note."""

    public_key: str
    scopes: frozenset[Scope] | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRequest:
    """`keyCreate`: the key to add and the scopes asked for (None: the signer's own, admin excepted)."""

    public_key: str
    scopes: frozenset[Scope] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequest:
    """`deposit` / `withdraw`: the asset, the amount, the caller's idempotency key, the target account."""

    symbol: str
    quantity: Decimal
    transfer_id: str | None = None
    account_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRequest:
    """`marketCreate`: a market's terms, its assets by symbol (the route looks them up)."""

    symbol: str
    base_symbol: str
    quote_symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0


MAX_ACCOUNT_ID = 2**63 - 1
MAX_FEE_BPS = 9_999
MAX_DECIMALS = 36
MAX_ID_LENGTH = 64
"""The longest `transferId` (and `publicKey`)."""
MAX_LABEL_LENGTH = 200
ASSET_SYMBOL = re.compile(r"[A-Za-z0-9]{1,16}")
MARKET_SYMBOL = re.compile(r"[A-Za-z0-9_]{1,32}")
"""What a new listing may be called: ASCII letters and digits (and `_` in a market's), so every
symbol is safe in a URL, a stream name (`depth.SOL_USDC`) and a log line."""


def _text(params: Mapping[str, Scalar], name: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    value = required(params, name)
    if type(value) is not str or not 0 < len(value) <= max_length:
        raise ApiError(400, BAD_REQUEST, f"{name} must be a string of 1 to {max_length} characters")
    return value


def _asset_symbol(params: Mapping[str, Scalar], name: str) -> str:
    value = required(params, name)
    if not isinstance(value, str):
        raise ApiError(400, "INVALID_ASSET", f"Invalid asset symbol {value}")
    return value


def parse_scopes(value: object) -> frozenset[Scope]:
    """Scopes from their comma-separated wire form, e.g. "read,trade"."""
    if not isinstance(value, str):
        raise ApiError(400, BAD_REQUEST, "scopes must be a comma-separated string like read,trade")
    try:
        return frozenset(Scope(s.strip()) for s in value.split(",") if s.strip())
    except ValueError:
        raise ApiError(400, BAD_REQUEST, "scopes must be among read, trade, admin") from None


def parse_account(params: Mapping[str, Scalar]) -> AccountRequest:
    """The `accountCreate` body."""
    public_key = parse_public_key(params)
    scopes = params.get("scopes")
    label = params.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH):
        raise ApiError(400, BAD_REQUEST, f"label must be a string of at most {MAX_LABEL_LENGTH} characters")
    return AccountRequest(public_key=public_key, scopes=None if scopes is None else parse_scopes(scopes), label=label)


def account_fields(account_id: int, public_key: str, scopes: Iterable[Scope]) -> Json:
    """The reply to `accountCreate`."""
    return {"accountId": account_id, "publicKey": public_key, "scopes": sorted(s.value for s in scopes)}


def parse_public_key(params: Mapping[str, Scalar]) -> str:
    """`publicKey` of a new account or key: the canonical base64 of 32 bytes (one text per key, so no duplicates)."""
    text = _text(params, "publicKey")
    try:
        raw = decode_public_key(text)
    except ApiError:
        raw = b""
    if not raw or base64.b64encode(raw).decode() != text:
        raise ApiError(400, BAD_REQUEST, "publicKey must be the base64 of a 32-byte ED25519 public key")
    return text


def parse_key(params: Mapping[str, Scalar]) -> KeyRequest:
    """The `keyCreate` body: `publicKey` and optional comma-separated `scopes` (at least one)."""
    public_key = parse_public_key(params)
    scopes = params.get("scopes")
    if scopes is None:
        return KeyRequest(public_key=public_key)
    wanted = parse_scopes(scopes)
    if not wanted:
        raise ApiError(400, BAD_REQUEST, "scopes must name at least one scope, like read or read,trade")
    return KeyRequest(public_key=public_key, scopes=wanted)


def key_fields(key: ApiKey) -> Json:
    """One key in the replies of `keyCreate`, `keyQueryAll` and `keyRevoke` (`createdAt` ms)."""
    return {
        "publicKey": key.public_key,
        "scopes": sorted(s.value for s in key.scopes),
        "createdAt": key.created_at // 1000,
        "revoked": key.revoked,
    }


_WITHDRAW_FIELDS = ("symbol", "quantity", "transferId")
_DEPOSIT_FIELDS = (*_WITHDRAW_FIELDS, "accountId")


def parse_transfer(params: Mapping[str, Scalar], *, to_account: bool) -> TransferRequest:
    """The `deposit` (with `to_account`, which reads `accountId`) or `withdraw` body."""
    only_fields(params, _DEPOSIT_FIELDS if to_account else _WITHDRAW_FIELDS, "transfer")
    symbol = _asset_symbol(params, "symbol")
    quantity = parse_decimal(required(params, "quantity"), code="INVALID_QUANTITY", name="quantity")
    transfer_id = None if params.get("transferId") is None else _text(params, "transferId")
    target = params.get("accountId")
    return TransferRequest(
        symbol=symbol,
        quantity=quantity,
        transfer_id=transfer_id,
        account_id=None if target is None else parse_uint(target, name="accountId", maximum=MAX_ACCOUNT_ID),
    )


def transfer_fields(asset: Asset, *, transfer_id: str, account_id: int, amount: int, duplicate: bool) -> Json:
    """The reply to `deposit` / `withdraw`: `duplicate` when the transfer id had been applied before."""
    return {
        "transferId": transfer_id,
        "accountId": account_id,
        "symbol": asset.symbol,
        "quantity": dec(asset.amount(amount)),
        "status": "Confirmed",
        "duplicate": duplicate,
    }


def parse_asset(params: Mapping[str, Scalar]) -> Asset:
    """The `assetCreate` body."""
    decimals = parse_uint(required(params, "decimals"), name="decimals", maximum=MAX_DECIMALS)
    symbol = required(params, "symbol")
    if not isinstance(symbol, str) or not ASSET_SYMBOL.fullmatch(symbol):
        raise ApiError(400, BAD_REQUEST, "symbol must be 1 to 16 ASCII letters and digits")
    return Asset(symbol=symbol, decimals=decimals)


def _positive(params: Mapping[str, Scalar], name: str) -> Decimal:
    value = parse_decimal(required(params, name), code=BAD_REQUEST, name=name)
    if value <= 0:
        raise ApiError(400, BAD_REQUEST, f"{name} must be positive")
    return value


def _fee(params: Mapping[str, Scalar], name: str) -> int:
    value = params.get(name)
    return 0 if value is None else parse_uint(value, name=name, maximum=MAX_FEE_BPS)


def market_symbol(base: str, quote: str) -> str:
    """The symbol a market gets when none is given: BASE_QUOTE."""
    return f"{base}_{quote}"


def parse_market(params: Mapping[str, Scalar]) -> MarketRequest:
    """The `marketCreate` body; `symbol` defaults to BASE_QUOTE."""
    base = _asset_symbol(params, "baseSymbol")
    quote = _asset_symbol(params, "quoteSymbol")
    symbol = params.get("symbol") or market_symbol(base, quote)
    if not isinstance(symbol, str) or not MARKET_SYMBOL.fullmatch(symbol):
        raise ApiError(400, BAD_REQUEST, "symbol must be 1 to 32 ASCII letters, digits and underscores")
    return MarketRequest(
        symbol=symbol,
        base_symbol=base,
        quote_symbol=quote,
        tick_size=_positive(params, "tickSize"),
        step_size=_positive(params, "stepSize"),
        min_quantity=_positive(params, "minQuantity"),
        maker_fee_bps=_fee(params, "makerFeeBps"),
        taker_fee_bps=_fee(params, "takerFeeBps"),
    )


def market_ref(params: Mapping[str, Scalar]) -> Scalar:
    """The `symbol` of a request naming one market (order queries and cancels, `marketHalt`, `marketResume`)."""
    return params.get("symbol")


def market_state_fields(symbol: str, *, halted: bool) -> Json:
    """The reply to `marketHalt` / `marketResume`: the market's `orderBookState`."""
    return {"symbol": symbol, "orderBookState": _book_state(halted)}


# == the client side ==================================================================
#
# A client of this API (the bots' `RestClient`) builds its requests and reads the replies
# with these inverses of the parsers and encoders above. tests/api/test_wire_client.py
# round-trips each pair, so a client and the server cannot drift apart.


def order_params(
    market: Market,
    *,
    side: Side,
    order_type: OrderType,
    price: int | None = None,
    quantity: int | None = None,
    quote_quantity: int | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
) -> Json:
    """An `OrderExecutePayload` from engine units: the inverse of `parse_order`."""
    params: Json = {
        "symbol": market.symbol,
        "side": side.value,
        "orderType": order_type.value,
        "timeInForce": time_in_force.value,
    }
    if price is not None:
        params["price"] = dec(market.price(price))
    if quantity is not None:
        params["quantity"] = dec(market.quantity(quantity))
    if quote_quantity is not None:
        params["quoteQuantity"] = dec(market.quote.amount(quote_quantity))
    if post_only:
        params["postOnly"] = True
    return params


def order_cancel_params(symbol: str, order_id: int) -> Json:
    """An `OrderCancelPayload` by order id: the inverse of `parse_order_ref`."""
    return {"symbol": symbol, "orderId": str(order_id)}


def asset_decimals(assets: Sequence[Json]) -> dict[str, int]:
    """Each asset's decimals from `/api/v1/assets`: the inverse of `asset_fields`."""
    return {item["symbol"]: int(item["tokens"][0]["nativeDecimals"]) for item in assets}


def market_of(fields: Json, decimals: Mapping[str, int]) -> Market:
    """A market from `/api/v1/markets` and its assets' decimals: the inverse of `market_fields`."""
    base, quote = fields["baseSymbol"], fields["quoteSymbol"]
    filters = fields["filters"]
    return Market(
        symbol=fields["symbol"],
        base=Asset(symbol=base, decimals=decimals[base]),
        quote=Asset(symbol=quote, decimals=decimals[quote]),
        tick_size=Decimal(filters["price"]["tickSize"]),
        step_size=Decimal(filters["quantity"]["stepSize"]),
        min_quantity=Decimal(filters["quantity"]["minQuantity"]),
        maker_fee_bps=int(fields["makerFeeBps"]),
        taker_fee_bps=int(fields["takerFeeBps"]),
    )


def _units(text: str, convert: Callable[[Decimal], int]) -> int:
    """A wire decimal in engine units, zero included (the converters take positives only)."""
    value = Decimal(text)
    return convert(value) if value else 0


def depth_of(market: Market, fields: Json) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) as (ticks, steps), each best first: the inverse of `depth_fields`."""

    def levels(rows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
        return [(market.ticks(Decimal(price)), _units(quantity, market.steps)) for price, quantity in rows]

    return levels(fields["bids"])[::-1], levels(fields["asks"])


def resting_of(fields: Json, market: Market) -> tuple[int, Side, int, int]:
    """(order id, side, price in ticks, remaining steps) of a live limit order's `order_fields`."""
    remaining = _units(fields["quantity"], market.steps) - _units(fields["executedQuantity"], market.steps)
    return int(fields["id"]), Side(fields["side"]), market.ticks(Decimal(fields["price"])), remaining


def available_of(fields: Json, assets: Mapping[str, Asset]) -> dict[str, int]:
    """Available atoms per known asset from `/api/v1/capital`: the inverse of `balance_fields`."""
    return {
        symbol: _units(balance["available"], assets[symbol].atoms)
        for symbol, balance in fields.items()
        if symbol in assets
    }


def error_of(fields: Json) -> tuple[str, str] | None:
    """(code, message) if a reply item is an `ApiErrorResponse`: the inverse of `error_fields`."""
    if "code" not in fields:
        return None
    return str(fields["code"]), str(fields.get("message", ""))


def account_params(request: AccountRequest) -> Json:
    """An `accountCreate` body: the inverse of `parse_account`."""
    params: Json = {"publicKey": request.public_key}
    if request.scopes is not None:
        params["scopes"] = ",".join(sorted(s.value for s in request.scopes))
    if request.label is not None:
        params["label"] = request.label
    return params


def key_params(request: KeyRequest) -> Json:
    """A `keyCreate` body: the inverse of `parse_key`."""
    params: Json = {"publicKey": request.public_key}
    if request.scopes is not None:
        params["scopes"] = ",".join(sorted(s.value for s in request.scopes))
    return params


def key_ref_params(public_key: str) -> Json:
    """A `keyRevoke` body: the inverse of `parse_public_key`."""
    return {"publicKey": public_key}


def transfer_params(request: TransferRequest) -> Json:
    """A `deposit` or `withdraw` body: the inverse of `parse_transfer`."""
    params: Json = {"symbol": request.symbol, "quantity": dec(request.quantity)}
    if request.transfer_id is not None:
        params["transferId"] = request.transfer_id
    if request.account_id is not None:
        params["accountId"] = str(request.account_id)
    return params


def asset_params(asset: Asset) -> Json:
    """An `assetCreate` body: the inverse of `parse_asset`."""
    return {"symbol": asset.symbol, "decimals": str(asset.decimals)}


def market_params(request: MarketRequest) -> Json:
    """A `marketCreate` body: the inverse of `parse_market`."""
    return {
        "symbol": request.symbol,
        "baseSymbol": request.base_symbol,
        "quoteSymbol": request.quote_symbol,
        "tickSize": dec(request.tick_size),
        "stepSize": dec(request.step_size),
        "minQuantity": dec(request.min_quantity),
        "makerFeeBps": str(request.maker_fee_bps),
        "takerFeeBps": str(request.taker_fee_bps),
    }
