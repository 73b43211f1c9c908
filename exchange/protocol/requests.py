"""Every request message, declared once (`fields.Request`), and the typed values they read into.

Backpack's bodies and query strings first (orders, order references, market data,
history), then the project's own (accounts, keys, transfers, listings), last transfers on
chains (Backpack's withdrawal to an address, the operator's settlement). Each declaration
gives the parser the routes call (`MESSAGE.read(params)`), the client's params
(`MESSAGE.params(value)`) and the OpenAPI schema the endpoint table points at. What a
parser cannot check from the text alone (whether a symbol is listed, a price on the tick,
funds sufficient) is the route's and the engine's: those refusals are the domain codes
each endpoint declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from exchange import marketdata
from exchange.engine.commands import PlaceOrder
from exchange.engine.numbers import BLOCKCHAIN, Asset, Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.decoding import MAX_TIME_MS, Scalar
from exchange.protocol.fields import (
    BOOLEAN_INPUT,
    DECIMAL_INPUT,
    FALSE_ONLY,
    Field,
    Kind,
    Request,
    Rule,
    choice,
    text,
    uint,
)


class Scope(StrEnum):
    """What an API key may do: read, trade, or administer the exchange."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


UINT32_MAX = 2**32 - 1
ID_MAX = 2**63 - 1
MAX_ID_LENGTH = 64
"""The longest `transferId`."""
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
MAX_KLINES = 1000
MONTH_SECONDS = 30 * 86_400
"""A month's nominal length, for the window of the newest `MAX_KLINES` monthly klines."""
SCOPES = "(read|trade|admin)(,(read|trade|admin))*"

MARKET = Field("symbol", text(min_length=1, max_length=32, pattern="[A-Za-z0-9_]{1,32}"), True, Code.INVALID_MARKET)
"""A market's symbol: ASCII letters, digits and `_`, so it is safe in a URL, a stream name and a log line."""
ASSET = Field("symbol", text(min_length=1, max_length=16, pattern="[A-Za-z0-9]{1,16}"), True, Code.INVALID_ASSET)
ORDER_ID = Field("orderId", uint(ID_MAX))
CLIENT_ID = Field("clientId", uint(UINT32_MAX))
LIMIT = Field("limit", uint(1000, minimum=1))
OFFSET = Field("offset", uint(10**9))
SORT = Field("sortDirection", choice(("Desc", "Asc")))
SINCE = Field("from", uint(MAX_TIME_MS), attr="since")
UNTIL = Field("to", uint(MAX_TIME_MS), attr="until")
PUBLIC_KEY = Field(
    "publicKey", text(min_length=44, max_length=44, pattern="[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="), True
)
"""The canonical base64 of a 32-byte ED25519 key (one text per key, so a key cannot be registered twice)."""
CHAIN_TEXT = text(min_length=1, max_length=128, pattern=r"[\x21-\x7e]{1,128}")
"""An address or a transaction hash: 1 to 128 printable ASCII characters, no spaces."""
BLOCKCHAIN_NAME = text(min_length=1, max_length=32, pattern=BLOCKCHAIN.pattern)
"""A network's name, e.g. Solana (the route checks an asset is listed on it)."""


def _scopes(value: str) -> frozenset[Scope]:
    return frozenset(Scope(s) for s in value.split(",") if s)


def scopes(*, at_least_one: bool) -> Field:
    """`scopes`: comma-separated, like "read,trade" (may be empty where no scope is a choice)."""
    wire = text(max_length=64, min_length=int(at_least_one), pattern=SCOPES if at_least_one else f"({SCOPES})?")
    return Field("scopes", Kind(wire.schema, lambda v: _scopes(wire.read(v)), lambda s: ",".join(sorted(s))))


# -- Backpack's ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An `OrderExecutePayload` in decimals: what `parse_order` converts to engine units."""

    symbol: str
    side: Side
    order_type: OrderType
    price: Decimal | None = None
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.REJECT_TAKER
    client_id: int | None = None


ORDER = Request(
    OrderRequest,
    (
        MARKET,
        Field("side", choice(Side), True),
        Field("orderType", choice(OrderType), True),
        Field("price", DECIMAL_INPUT, code=Code.INVALID_PRICE),
        Field("quantity", DECIMAL_INPUT, code=Code.INVALID_QUANTITY),
        Field("quoteQuantity", DECIMAL_INPUT, code=Code.INVALID_QUANTITY),
        Field("timeInForce", choice(TimeInForce)),
        Field("postOnly", BOOLEAN_INPUT),
        Field("selfTradePrevention", choice(SelfTradePrevention)),
        CLIENT_ID,
        Field("brokerId", uint(2**16 - 1), keep=False),
        *(
            Field(name, FALSE_ONLY, keep=False)
            for name in ("reduceOnly", "autoLend", "autoLendRedeem", "autoBorrow", "autoBorrowRepay")
        ),
    ),
    (
        Rule("Limit orders must specify a `price` and a `quantity`", ("orderType", "Limit"), ("price", "quantity")),
        Rule("Market orders must specify a `quantity` or `quoteQuantity`", ("orderType", "Market"),
             one_of=("quantity", "quoteQuantity")),
    ),
)  # fmt: skip


def parse_order(order: OrderRequest, market: Market, *, account_id: int, ts: int) -> PlaceOrder:
    """An order request in engine units (400 INVALID_PRICE / INVALID_QUANTITY off the tick or the step)."""
    return PlaceOrder(
        account_id=account_id,
        symbol=market.symbol,
        side=order.side,
        order_type=order.order_type,
        price=None if order.price is None else market.ticks(order.price),
        quantity=None if order.quantity is None else market.steps(order.quantity),
        quote_quantity=None if order.quote_quantity is None else market.quote.atoms(order.quote_quantity),
        time_in_force=order.time_in_force,
        post_only=order.post_only,
        self_trade_prevention=order.self_trade_prevention,
        client_id=order.client_id,
        ts=ts,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRef:
    """`OrderCancelPayload` / orderQuery: one order of a market, by exactly one of its ids."""

    symbol: str
    order_id: int | None = None
    client_id: int | None = None


ONE_ID = Rule("Must specify either `clientId` or `orderId`", one_of=("orderId", "clientId"))
ORDER_REF = Request(OrderRef, (MARKET, ORDER_ID, CLIENT_ID), (ONE_ID,))
ORDER_REF_QUERY = Request(OrderRef, ORDER_REF.fields, ORDER_REF.rules, closed=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Query:
    """The params of a market-data, listing or history query (each route reads the ones it declares)."""

    symbol: str | None = None
    limit: int = 100
    offset: int = 0
    sort_direction: str = "Desc"
    order_id: int | None = None
    since: int | None = None
    until: int | None = None
    fill_type: str | None = None
    interval: str | None = None
    start_time: int = 0
    end_time: int | None = None
    price_type: str = "Last"
    depth_limit: str = str(DEPTH_LIMITS[-1])
    blockchain: str | None = None

    @property
    def ascending(self) -> bool:
        """Whether a listing runs oldest first (`sortDirection=Asc`)."""
        return self.sort_direction == "Asc"

    @property
    def window(self) -> tuple[int | None, int | None]:
        """`from`/`to` in ms, both ends included, as `[start, end)` in µs (None: unbounded)."""
        return (
            None if self.since is None else self.since * 1000,
            None if self.until is None else self.until * 1000 + 1000,
        )


def query(*fields: Field) -> Request[Query]:
    """A query-string message read into `Query`."""
    return Request(Query, fields, closed=False)


OPTIONAL_MARKET = Field("symbol", MARKET.kind, code=Code.INVALID_MARKET)
TICKER_INTERVAL = Field("interval", choice(("1d",)))
"""Tickers are rolling 24-hour statistics: `interval` may only say `1d`."""
MARKET_QUERY = query(MARKET)
DEPTH_QUERY = query(MARKET, Field("limit", choice(tuple(map(str, DEPTH_LIMITS))), attr="depth_limit"))
TICKER_QUERY = query(MARKET, TICKER_INTERVAL)
TICKERS_QUERY = query(TICKER_INTERVAL)
KLINES_QUERY = query(
    MARKET,
    Field("interval", choice(tuple(marketdata.INTERVALS)), True),
    Field("startTime", uint(MAX_TIME_MS // 1000), True),
    Field("endTime", uint(MAX_TIME_MS // 1000)),
    Field("priceType", choice(("Last",))),
)
TRADES_QUERY = query(MARKET, LIMIT)
TRADES_HISTORY_QUERY = query(MARKET, LIMIT, OFFSET)
ORDERS_QUERY = query(OPTIONAL_MARKET)
HISTORY_QUERY = query(OPTIONAL_MARKET, ORDER_ID, LIMIT, OFFSET, SORT)
FILLS_QUERY = query(*HISTORY_QUERY.fields, SINCE, UNTIL, Field("fillType", text(max_length=64)))
TRANSFERS_QUERY = query(SINCE, UNTIL, LIMIT, OFFSET, SORT)
BLOCKCHAIN_QUERY = query(Field("blockchain", BLOCKCHAIN_NAME, True))
PAGE_QUERY = query(LIMIT, OFFSET)


def klines_window(wanted: Query, *, now: int) -> tuple[str, int, int]:
    """(interval, start, end) of `/klines` in seconds, the newest `MAX_KLINES` kept.

    Candles starting in `[start, end)` are answered; without `endTime`, `end` is just past
    `now`, so the candle that opened in this very second is among them."""
    assert wanted.interval is not None
    end = now + 1 if wanted.end_time is None else wanted.end_time
    if end < wanted.start_time:
        raise ApiError(400, Code.INVALID_RANGE, "endTime must not be before startTime")
    seconds = marketdata.INTERVALS[wanted.interval].seconds or MONTH_SECONDS
    return wanted.interval, max(wanted.start_time, end - seconds * MAX_KLINES), end


# -- the project's own -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolRef:
    """A request naming one market (cancel all, halt, resume)."""

    symbol: str


SYMBOL_BODY = Request(SymbolRef, (MARKET,))


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRequest:
    """`accountCreate`: the new key, the scopes asked for (None: the default) and a note."""

    public_key: str
    scopes: frozenset[Scope] | None = None
    label: str | None = None


ACCOUNT = Request(AccountRequest, (PUBLIC_KEY, scopes(at_least_one=False), Field("label", text(max_length=200))))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyRequest:
    """`keyCreate` (the key to add and its scopes, None: the signer's own but admin) and `keyRevoke`."""

    public_key: str
    scopes: frozenset[Scope] | None = None


KEY = Request(KeyRequest, (PUBLIC_KEY, scopes(at_least_one=True)))
KEY_REF = Request(KeyRequest, (PUBLIC_KEY,))


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferRequest:
    """`deposit` / `withdraw`: the asset, the amount, the caller's idempotency key, the target account;
    an on-ramp deposit by reference names the account's deposit `address` and its chain transaction instead."""

    symbol: str
    quantity: Decimal
    transfer_id: str | None = None
    account_id: int | None = None
    address: str | None = None
    transaction_hash: str | None = None


QUANTITY = Field("quantity", DECIMAL_INPUT, True, Code.INVALID_QUANTITY)
WITHDRAW = Request(
    TransferRequest, (ASSET, QUANTITY, Field("transferId", text(min_length=1, max_length=MAX_ID_LENGTH)))
)
BY_REFERENCE = "a deposit by address is identified by its transactionHash: no transferId or accountId"
DEPOSIT = Request(
    TransferRequest,
    (
        *WITHDRAW.fields,
        Field("accountId", uint(ID_MAX)),
        Field("address", CHAIN_TEXT),
        Field("transactionHash", CHAIN_TEXT),
    ),
    (
        Rule(BY_REFERENCE, ("address", None), ("transactionHash",), absent=("transferId", "accountId")),
        Rule(BY_REFERENCE, ("transactionHash", None), ("address",)),
    ),
)


BLOCKCHAINS = text(max_length=32 * 8 + 7, min_length=1, pattern=f"{BLOCKCHAIN.pattern}(,{BLOCKCHAIN.pattern}){{0,7}}")
"""An asset's networks, comma-separated (at most 8), e.g. Solana,Ethereum; the engine refuses a name twice."""


def _blockchains(value: Scalar) -> tuple[str, ...]:
    return tuple(BLOCKCHAINS.read(value).split(","))


ASSET_CREATE = Request(
    Asset,
    (
        Field("symbol", ASSET.kind, True),
        Field("decimals", uint(36), True),
        Field("blockchains", Kind(BLOCKCHAINS.schema, _blockchains, ",".join)),
    ),
)
"""`assetCreate`: `blockchains` default `DEFAULT_BLOCKCHAINS`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRequest:
    """`marketCreate`: a market's terms, its assets by symbol (the route looks them up)."""

    base_symbol: str
    quote_symbol: str
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    symbol: str | None = None
    band_min: Decimal | None = None
    """The price band's multipliers of the last trade price (`Market.band`): both or neither."""
    band_max: Decimal | None = None

    @property
    def name(self) -> str:
        """The market's symbol: `symbol`, or BASE_QUOTE when none is given."""
        return self.symbol or f"{self.base_symbol}_{self.quote_symbol}"


MARKET_CREATE = Request(
    MarketRequest,
    (
        Field("symbol", MARKET.kind),
        Field("baseSymbol", ASSET.kind, True, Code.INVALID_ASSET),
        Field("quoteSymbol", ASSET.kind, True, Code.INVALID_ASSET),
        *(Field(name, DECIMAL_INPUT, True) for name in ("tickSize", "stepSize", "minQuantity")),
        *(Field(name, uint(9_999)) for name in ("makerFeeBps", "takerFeeBps")),
        Field("minMultiplier", DECIMAL_INPUT, attr="band_min"),
        Field("maxMultiplier", DECIMAL_INPUT, attr="band_max"),
    ),
)
PNL_QUERY = ORDERS_QUERY
"""`pnlQuery`: like the open orders, an optional market."""

SPOT_SETTINGS: dict[str, bool | str] = {
    "autoBorrowSettlements": False,
    "autoLend": False,
    "autoRealizePnl": False,
    "autoRepayBorrows": False,
    "leverageLimit": "1",
}
"""Backpack's account settings as a spot-only exchange has them: no borrowing, no lending,
no futures PnL to realize, no leverage. `accountUpdate` may only restate them."""


def _spot_setting(name: str, spot: bool | str) -> Field:
    """A setting that must equal its spot value: a bad value is INVALID_CLIENT_REQUEST, another one
    UNSUPPORTED_SETTING (a refusal of the domain: the schema allows any value of the type)."""
    kind = BOOLEAN_INPUT if isinstance(spot, bool) else DECIMAL_INPUT

    def read(value: Scalar) -> None:
        if kind.read(value) != kind.read(spot):
            raise ApiError(
                400,
                Code.UNSUPPORTED_SETTING,
                f"{name} cannot be changed: this is a spot exchange without margin, lending or leverage "
                f"({name} is always {str(spot).lower()})",
            )

    return Field(name, Kind(kind.schema, read, kind.write), keep=False)


ACCOUNT_UPDATE = Request(lambda: None, tuple(_spot_setting(name, spot) for name, spot in SPOT_SETTINGS.items()))
"""`accountUpdate`: only a restatement of `SPOT_SETTINGS` (a no-op)."""


# -- transfers on chains ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WithdrawalRequest:
    """`withdraw` on Backpack's route: what, how much, where to, and the caller's idempotency key.

    `clientId` is the idempotency key of the withdrawal, as `transferId` is of the project's own
    withdraw route; the route checks the asset, its networks and the funds."""

    symbol: str
    quantity: Decimal
    address: str
    blockchain: str
    client_id: str | None = None


WITHDRAWAL = Request(
    WithdrawalRequest,
    (
        ASSET,
        QUANTITY,
        Field("address", CHAIN_TEXT, True),
        Field("blockchain", BLOCKCHAIN_NAME, True),
        Field("clientId", text(min_length=1, max_length=MAX_ID_LENGTH)),
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """The operator's `withdrawalConfirm` / `withdrawalFail`: the withdrawal's number and, if sent, its transaction."""

    id: int
    transaction_hash: str | None = None


SETTLEMENT = Request(Settlement, (Field("id", uint(ID_MAX), True), Field("transactionHash", CHAIN_TEXT)))
