"""Every REST reply, declared once (`fields.Reply`): the encoder and the OpenAPI component are the same statement.

Types and units follow Backpack: prices, quantities and amounts are decimal strings in
plain notation; order ids are strings, trade ids numbers; live `createdAt` and public
trade `timestamp` are integer ms, depth `timestamp` µs, history and transfers naive UTC
ISO strings with ms. A reply is built from engine and database values through a small
record (`Listing`, `Placed`, ...) when it needs more than one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from exchange import marketdata, pnl
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.engine.queries import OrderView
from exchange.persistence import queries
from exchange.persistence.tables import CONFIRMED, FAILED, PENDING
from exchange.protocol.codes import Code
from exchange.protocol.decoding import Json
from exchange.protocol.fields import (
    BOOLEAN,
    COUNT,
    DECIMAL,
    INTEGER,
    MS,
    STRING,
    Out,
    Reply,
    Schema,
    array,
    attr,
    const,
    dec,
    decimals,
    enum,
    nullable,
    nulls,
)
from exchange.protocol.requests import SPOT_SETTINGS, Scope


def naive_iso(micros: int) -> str:
    """Naive UTC ISO-8601 with milliseconds, as Backpack's history endpoints write times."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def kline_time(seconds: int) -> str:
    """A kline boundary as Backpack's REST writes it: "YYYY-MM-DD HH:MM:SS" (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def book_state(halted: bool) -> str:
    """A market's `orderBookState`."""
    return "CancelOnly" if halted else "Open"


BOOK_STATE = enum(("Open", "CancelOnly"))
STATUS = Reply[bool](
    "Status",
    Out("status", STRING, lambda ready: "Ok" if ready else "Maintenance"),
    Out("message", nullable(STRING), lambda ready: None if ready else "engine halted"),
)
ERROR = Reply[tuple[str, str]]("Error", Out("code", enum(Code), lambda e: e[0]), Out("message", STRING, lambda e: e[1]))

# -- catalog ---------------------------------------------------------------------------

TOKEN = Reply[tuple[Asset, str]](
    "Token",
    Out("displayName", STRING, lambda t: t[0].symbol),
    Out("blockchain", STRING, lambda t: t[1]),
    const("contractAddress"),
    const("depositEnabled", True),
    const("minimumDeposit", "0"),
    const("withdrawEnabled", True),
    const("minimumWithdrawal", "0"),
    const("maximumWithdrawal"),
    const("withdrawalFee", "0"),
    Out("nativeDecimals", INTEGER, lambda t: t[0].decimals),
)
"""An asset on one of its blockchains."""
ASSET = Reply[Asset](
    "Asset",
    Out("symbol", STRING, lambda a: a.symbol),
    Out("displayName", STRING, lambda a: a.symbol),
    const("coingeckoId"),
    Out("tokens", array(TOKEN.ref), lambda a: [TOKEN.encode((a, blockchain)) for blockchain in a.blockchains]),
)
"""`MarketAsset`: one asset with a token per blockchain it is listed on."""


PRICE_FILTER = Reply[Market](
    "PriceFilter",
    Out("minPrice", DECIMAL, lambda m: dec(m.tick_size)),
    const("maxPrice"),
    Out("tickSize", DECIMAL, lambda m: dec(m.tick_size)),
    Out("minMultiplier", nullable(DECIMAL), lambda m: None if m.band_min is None else dec(m.band_min)),
    Out("maxMultiplier", nullable(DECIMAL), lambda m: None if m.band_max is None else dec(m.band_max)),
)
"""The price band (`Market.band`) as Backpack's multipliers of the last trade price (null: no band)."""
QUANTITY_FILTER = Reply[Market](
    "QuantityFilter",
    Out("minQuantity", DECIMAL, lambda m: dec(m.min_quantity)),
    const("maxQuantity"),
    Out("stepSize", DECIMAL, lambda m: dec(m.step_size)),
)
FILTERS = Reply[Market](
    "Filters",
    Out("price", PRICE_FILTER.ref, PRICE_FILTER.encode),
    Out("quantity", QUANTITY_FILTER.ref, QUANTITY_FILTER.encode),
)


class Listing(NamedTuple):
    """A market as listed: halted or not, and when it was listed (µs)."""

    market: Market
    halted: bool
    created_at: int


MARKET = Reply[Listing](
    "Market",
    Out("symbol", STRING, lambda m: m.market.symbol),
    Out("baseSymbol", STRING, lambda m: m.market.base.symbol),
    Out("quoteSymbol", STRING, lambda m: m.market.quote.symbol),
    const("marketType", "SPOT"),
    Out("filters", FILTERS.ref, lambda m: FILTERS.encode(m.market)),
    Out("orderBookState", BOOK_STATE, lambda m: book_state(m.halted)),
    Out("createdAt", STRING, lambda m: naive_iso(m.created_at)),
    const("visible", True),
    Out("makerFeeBps", INTEGER, lambda m: m.market.maker_fee_bps),
    Out("takerFeeBps", INTEGER, lambda m: m.market.taker_fee_bps),
)
MARKET_STATE = Reply[tuple[str, bool]](
    "MarketState", Out("symbol", STRING, lambda s: s[0]), Out("orderBookState", BOOK_STATE, lambda s: book_state(s[1]))
)

# -- market data -----------------------------------------------------------------------

Levels = Sequence[tuple[int, int]]


def depth_levels(market: Market, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    """`[[price, quantity], ...]` from (ticks, steps) pairs, in the order given."""
    return [[dec(market.price(p)), dec(market.quantity(q))] for p, q in levels]


class Book(NamedTuple):
    """A market's book at depth sequence `sequence`, each side best first, read at `ts` (µs)."""

    market: Market
    sequence: int
    bids: Levels
    asks: Levels
    ts: int


DEPTH = Reply[Book](
    "Depth",
    Out("asks", array(array(DECIMAL)), lambda b: depth_levels(b.market, b.asks)),
    Out("bids", array(array(DECIMAL)), lambda b: depth_levels(b.market, reversed(b.bids))),
    Out("lastUpdateId", COUNT, lambda b: str(b.sequence)),
    Out("timestamp", {"type": "integer", "description": "microseconds"}, lambda b: b.ts),
)
TICKER = Reply[marketdata.Ticker](
    "Ticker",
    attr("symbol", STRING),
    *decimals("firstPrice lastPrice priceChange"),
    Out("priceChangePercent", DECIMAL, lambda t: dec(t.price_change_fraction)),
    *decimals("high low volume quoteVolume"),
    Out("trades", COUNT, lambda t: str(t.trades)),
)


def ticker_fields(symbol: str, ticker: marketdata.Ticker | None) -> Json:
    """`Ticker`: 24h rolling statistics, zeros for a market without trades; `priceChangePercent` is a fraction."""
    if ticker is None:
        return {f.name: symbol if f.name == "symbol" else "0" for f in TICKER.fields}
    return TICKER.encode(ticker)


KLINE = Reply[marketdata.Kline](
    "Kline",
    Out("start", STRING, lambda k: kline_time(k.start // 1_000_000)),
    Out("end", STRING, lambda k: kline_time(k.end // 1_000_000)),
    *decimals("open high low close volume quoteVolume"),
    Out("trades", COUNT, lambda k: str(k.trades)),
)
TRADE = Reply[queries.Trade](
    "Trade",
    attr("id", INTEGER),
    *decimals("price quantity quoteQuantity"),
    Out("timestamp", MS, lambda t: t.ts // 1000),
    attr("isBuyerMaker", BOOLEAN),
)

# -- orders, fills, balances -----------------------------------------------------------


class Placed(NamedTuple):
    """An order's state and its market (the units its numbers are in)."""

    view: OrderView
    market: Market


def _optional(value: int | None, convert: Any) -> str | None:
    return None if value is None else dec(convert(value))


def _order(name: str, created_at: Out[Placed], *extras: Out[Any]) -> Reply[Placed]:
    return Reply(
        name,
        Out("id", STRING, lambda o: str(o.view.spec.id)),
        attr("clientId", nullable(INTEGER), "view.spec.client_id"),
        created_at,
        Out("executedQuantity", DECIMAL, lambda o: dec(o.market.quantity(o.view.executed))),
        Out("executedQuoteQuantity", DECIMAL, lambda o: dec(o.market.quote.amount(o.view.executed_quote))),
        Out("orderType", enum(OrderType), lambda o: o.view.spec.order_type.value),
        attr("postOnly", BOOLEAN, "view.spec.post_only"),
        Out("price", nullable(DECIMAL), lambda o: _optional(o.view.spec.price, o.market.price)),
        Out("quantity", nullable(DECIMAL), lambda o: _optional(o.view.spec.quantity, o.market.quantity)),
        Out("quoteQuantity", nullable(DECIMAL), lambda o: _optional(o.view.spec.quote_quantity, o.market.quote.amount)),
        Out("selfTradePrevention", enum(SelfTradePrevention), lambda o: o.view.spec.self_trade_prevention.value),
        Out("side", enum(Side), lambda o: o.view.spec.side.value),
        Out("status", enum(OrderStatus), lambda o: o.view.status.value),
        attr("symbol", STRING, "view.spec.symbol"),
        Out("timeInForce", enum(TimeInForce), lambda o: o.view.spec.time_in_force.value),
        *nulls("reduceOnly relatedOrderId stopLossLimitPrice stopLossTriggerBy stopLossTriggerPrice strategyId"),
        *nulls(
            "takeProfitLimitPrice takeProfitTriggerBy takeProfitTriggerPrice triggerBy triggerPrice triggerQuantity"
        ),
        *extras,
    )


ORDER = _order("Order", Out("createdAt", MS, lambda o: o.view.spec.created_at // 1000), const("triggeredAt"))
"""`OrderType` of the live routes: `createdAt` in ms."""
ORDER_HISTORY = _order(
    "OrderHistory",
    Out("createdAt", STRING, lambda o: naive_iso(o.view.spec.created_at)),
    const("expiryReason"),
    const("systemOrderType"),
)
"""`Order` of `/wapi/v1/history/orders`: `createdAt` naive ISO."""
BATCH_RESULT: Schema = {
    "oneOf": [
        {"allOf": [ORDER.ref, {"properties": {"operation": {"const": "Ok"}}, "required": ["operation"]}]},
        {"allOf": [ERROR.ref, {"properties": {"operation": {"const": "Err"}}, "required": ["operation"]}]},
    ]
}
"""One item of `POST /api/v1/orders`: the order tagged `"operation": "Ok"`, or an error tagged `"Err"`."""


def batch_item(fields: Json, *, ok: bool) -> Json:
    """A `BATCH_RESULT` from an order's or an error's fields."""
    return {"operation": "Ok" if ok else "Err", **fields}


FILL = Reply[queries.Fill](
    "Fill",
    const("clientId"),
    *decimals("fee"),
    attr("feeSymbol", STRING, "fee_asset"),
    attr("isMaker", BOOLEAN),
    Out("orderId", STRING, lambda f: str(f.order_id)),
    *decimals("price quantity"),
    attr("side", enum(Side)),
    attr("symbol", STRING),
    const("systemOrderType"),
    Out("timestamp", STRING, lambda f: naive_iso(f.ts)),
    attr("tradeId", INTEGER),
)
TRANSFER_STATUS = enum((PENDING, CONFIRMED, FAILED))
"""A transfer's status: a deposit is `confirmed` when credited; a withdrawal to a chain is `pending` until the
operator confirms or fails it, one on the ledger alone `confirmed` at once (ccxt reads `confirmed` as `ok`)."""
DEPOSIT_SOURCE = "administrator"
"""Backpack's deposit `source` for a credit that did not arrive on a chain: the faucet and the operator's on-ramp
without a reference. A deposit by reference names its chain, lower-case, as Backpack does ("solana")."""
CHAIN_TEXT = nullable(STRING)
DEPOSIT = Reply[queries.Transfer](
    "Deposit",
    attr("id", INTEGER),
    Out("toAddress", CHAIN_TEXT, lambda t: t.address),
    *nulls("fromAddress confirmationBlockNumber"),
    Out("identifier", STRING, lambda t: t.transfer_id),
    Out("source", STRING, lambda t: DEPOSIT_SOURCE if t.blockchain is None else t.blockchain.lower()),
    attr("status", TRANSFER_STATUS),
    attr("transactionHash", CHAIN_TEXT),
    const("subaccountId"),
    Out("symbol", STRING, lambda t: t.asset),
    Out("quantity", DECIMAL, lambda t: dec(t.amount)),
    Out("createdAt", STRING, lambda t: naive_iso(t.ts)),
    *nulls("fiatAmount fiatCurrency institutionBic platformMemo"),
)
"""`Deposit` of `/wapi/v1/capital/deposits`: credited when committed (`confirmed`); naive ISO `createdAt`."""
WITHDRAWAL = Reply[queries.Transfer](
    "Withdrawal",
    attr("id", INTEGER),
    attr("blockchain", CHAIN_TEXT),
    const("clientId"),
    Out("identifier", STRING, lambda t: t.transfer_id),
    Out("quantity", DECIMAL, lambda t: dec(t.amount)),
    const("fee", "0"),
    Out("symbol", STRING, lambda t: t.asset),
    attr("status", TRANSFER_STATUS),
    const("subaccountId"),
    Out("toAddress", CHAIN_TEXT, lambda t: t.address),
    attr("transactionHash", CHAIN_TEXT),
    Out("createdAt", STRING, lambda t: naive_iso(t.ts)),
    const("isInternal", False),
    *nulls("triggerAt accountIdentifier bankIdentifier bankName fiatFee fiatState fiatSymbol providerId"),
)
"""`Withdrawal` of `/wapi/v1/capital/withdrawals`: its status (pending, confirmed or failed), fee "0"."""
DEPOSIT_ADDRESS = Reply[str]("DepositAddress", Out("address", STRING, lambda address: address))
"""Backpack's `DepositAddress`: the account's stable reference on a blockchain."""
BALANCE = Reply[tuple[Asset, int, int]](
    "Balance",
    Out("available", DECIMAL, lambda b: dec(b[0].amount(b[1]))),
    Out("locked", DECIMAL, lambda b: dec(b[0].amount(b[2]))),
    const("staked", "0"),
)
BALANCES: Schema = {"type": "object", "additionalProperties": BALANCE.ref}


def balance_fields(assets: Mapping[str, Asset], balances: Mapping[str, tuple[int, int]]) -> Json:
    """`/api/v1/capital`: `{asset: {available, locked, staked}}` for every asset held."""
    return {s: BALANCE.encode((assets[s], available, locked)) for s, (available, locked) in sorted(balances.items())}


# -- the project's own -----------------------------------------------------------------


class Credited(NamedTuple):
    """A deposit or withdrawal as applied: `duplicate` when its transfer id had been applied before."""

    asset: Asset
    transfer_id: str
    account_id: int
    amount: int
    duplicate: bool


TRANSFER = Reply[Credited](
    "Transfer",
    attr("transferId", STRING),
    attr("accountId", INTEGER),
    Out("symbol", STRING, lambda t: t.asset.symbol),
    Out("quantity", DECIMAL, lambda t: dec(t.asset.amount(t.amount))),
    const("status", "Confirmed"),
    attr("duplicate", BOOLEAN),
)
SCOPES = array(enum(Scope))
ACCOUNT = Reply[tuple[int, str, frozenset[Scope]]](
    "Account",
    Out("accountId", INTEGER, lambda a: a[0]),
    Out("publicKey", STRING, lambda a: a[1]),
    Out("scopes", SCOPES, lambda a: sorted(s.value for s in a[2])),
)


class KeyRecord(Protocol):
    """What `API_KEY` reads of a registered key (`created_at` in µs)."""

    @property
    def public_key(self) -> str: ...
    @property
    def scopes(self) -> frozenset[Scope]: ...
    @property
    def created_at(self) -> int: ...
    @property
    def revoked(self) -> bool: ...


API_KEY = Reply[KeyRecord](
    "ApiKey",
    attr("publicKey", STRING),
    Out("scopes", SCOPES, lambda k: sorted(s.value for s in k.scopes)),
    Out("createdAt", MS, lambda k: k.created_at // 1000),
    attr("revoked", BOOLEAN),
)
ENGINE = Reply[tuple[str, int | None, str | None]](
    "Engine",
    Out("role", STRING, lambda e: e[0]),
    Out("epoch", nullable(INTEGER), lambda e: e[1]),
    Out("digest", nullable(STRING), lambda e: e[2]),
)
ACCOUNT_SETTINGS = Reply[Sequence[Market]](
    "AccountSettings",
    *(const(name, dec(value) if isinstance(value, Decimal) else value) for name, value in SPOT_SETTINGS.items()),
    const("borrowLimit", "0"),
    const("futuresMakerFee", "0"),
    const("futuresTakerFee", "0"),
    Out("limitOrders", {"type": "null", "description": "no cap on open limit orders"}),
    const("liquidating", False),
    const("positionLimit", "0"),
    Out("spotMakerFee", {**DECIMAL, "description": "bps: the highest maker fee of the listed markets"},
        lambda ms: str(max((m.maker_fee_bps for m in ms), default=0))),
    Out("spotTakerFee", {**DECIMAL, "description": "bps: the highest taker fee of the listed markets"},
        lambda ms: str(max((m.taker_fee_bps for m in ms), default=0))),
    const("triggerOrders", 0),
)  # fmt: skip
"""`GET /api/v1/account` of the listed markets: the spot settings, fees in bps and the account's limits.

Fees differ per market here (each market's are on `/api/v1/markets`); the account's
`spotMakerFee`/`spotTakerFee` are the highest of the listed markets' rates, the most an
order may pay. Nothing is borrowed, so `borrowLimit` and `positionLimit` are 0; there is
no cap on open limit orders (`limitOrders` null) and no trigger orders (`triggerOrders` 0).
"""


class Position(NamedTuple):
    """One market's PnL (`exchange.pnl`) at its last trade price (ticks; None before its first trade)."""

    market: Market
    pnl: pnl.Pnl
    last_price: int | None


PNL = Reply[Position](
    "Pnl",
    Out("symbol", STRING, lambda p: p.market.symbol),
    Out("netQuantity", {**DECIMAL, "description": "base bought here net of base sold (never below 0)"},
        lambda p: dec(p.market.base.amount(p.pnl.position))),
    Out("costBasis", {**DECIMAL, "description": "quote paid for netQuantity, fees included (average cost)"},
        lambda p: dec(p.market.quote.amount(p.pnl.cost))),
    Out("pnlRealized", DECIMAL, lambda p: dec(p.market.quote.amount(p.pnl.realized))),
    Out("pnlUnrealized", {**nullable(DECIMAL), "description": "at lastPrice; null before the market's first trade"},
        lambda p: _optional(p.pnl.unrealized, p.market.quote.amount)),
    Out("lastPrice", nullable(DECIMAL), lambda p: _optional(p.last_price, p.market.price)),
)  # fmt: skip
"""`GET /exchange/v1/pnl`: one market's position (base), its cost basis and PnL (quote)."""
REPLIES: tuple[Reply[Any], ...] = (
    *(STATUS, ERROR, TOKEN, ASSET, PRICE_FILTER, QUANTITY_FILTER, FILTERS, MARKET, MARKET_STATE, DEPTH, TICKER, KLINE),
    *(TRADE, ORDER, ORDER_HISTORY, FILL, DEPOSIT, WITHDRAWAL, DEPOSIT_ADDRESS, BALANCE, TRANSFER, ACCOUNT, API_KEY),
    *(ENGINE, ACCOUNT_SETTINGS, PNL),
)
"""Every reply, each a component of the OpenAPI document."""
