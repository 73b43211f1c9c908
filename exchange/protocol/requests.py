"""Every request message, declared once (`fields.Message`): each field one line, its wire name, type, limits and code.

Backpack's bodies and query strings first (orders, order references, market data,
history), then the project's own (accounts, keys, transfers, listings), last transfers on
chains (Backpack's withdrawal to an address, the operator's settlement). Each message
gives the parser the routes call (`OrderRequest.read(params)`), the client's params
(`order.params()`) and the OpenAPI schema the endpoint table points at. What a parser
cannot check from the text alone (whether a symbol is listed, a price on the tick, funds
sufficient) is the route's and the engine's: those refusals are the domain codes each
endpoint declares.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, get_args

from msgspec import Meta, field, structs

from exchange import marketdata
from exchange.engine.commands import PlaceOrder
from exchange.engine.numbers import BLOCKCHAIN, DEFAULT_BLOCKCHAINS, Asset, Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.decoding import MAX_TIME_MS
from exchange.protocol.fields import Message, Positive, Query, Rule, one_of, text


class Scope(StrEnum):
    """What an API key may do: read, trade, or administer the exchange."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


MAX_KLINES = 1000
MONTH_SECONDS = 30 * 86_400
"""A month's nominal length, for the window of the newest `MAX_KLINES` monthly klines."""
SCOPES = "(read|trade|admin)(,(read|trade|admin))*"
BLOCKCHAINS = f"{BLOCKCHAIN.pattern}(,{BLOCKCHAIN.pattern}){{0,7}}"
"""An asset's networks, comma-separated (at most 8), e.g. Solana,Ethereum; the engine refuses a name twice."""

MarketSymbol = Annotated[str, text(32, 1, "[A-Za-z0-9_]{1,32}")]
"""A market's symbol: ASCII letters, digits and `_`, so it is safe in a URL, a stream name and a log line."""
Symbol = Annotated[MarketSymbol, Code.INVALID_MARKET]
"""A market a request names."""
AssetSymbol = Annotated[str, text(16, 1, "[A-Za-z0-9]{1,16}")]
AssetRef = Annotated[AssetSymbol, Code.INVALID_ASSET]
Id = Annotated[int, Meta(ge=0, le=2**63 - 1)]
ClientId = Annotated[int, Meta(ge=0, le=2**32 - 1)]
Limit = Annotated[int, Meta(ge=1, le=1000)]
Offset = Annotated[int, Meta(ge=0, le=10**9)]
Milliseconds = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]
Seconds = Annotated[int, Meta(ge=0, le=MAX_TIME_MS // 1000)]
Price = Annotated[Positive, Code.INVALID_PRICE]
Quantity = Annotated[Positive, Code.INVALID_QUANTITY]
PublicKey = Annotated[str, text(44, 44, "[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=")]
"""The canonical base64 of a 32-byte ED25519 key (one text per key, so a key cannot be registered twice)."""
ChainText = Annotated[str, text(128, 1, r"[\x21-\x7e]{1,128}")]
"""An address or a transaction hash: 1 to 128 printable ASCII characters, no spaces."""
Blockchain = Annotated[str, text(32, 1, BLOCKCHAIN.pattern)]
"""A network's name, e.g. Solana (the route checks an asset is listed on it)."""
IdempotencyKey = Annotated[str, text(64, 1)]
Sort = Literal["Desc", "Asc"]
DepthLimit = Literal[5, 10, 20, 50, 100, 500, 1000]
DEPTH_LIMITS: tuple[DepthLimit, ...] = get_args(DepthLimit)


def scope_set(scopes: str | None) -> frozenset[Scope] | None:
    """The scopes of a comma-separated `scopes` field, like "read,trade" (None: not given)."""
    return None if scopes is None else frozenset(Scope(s) for s in scopes.split(",") if s)


# -- Backpack's ------------------------------------------------------------------------


class OrderRequest(Message):
    """`OrderExecutePayload`; Backpack's borrowing and lending flags are accepted only when false (spot only)."""

    symbol: Symbol
    side: Side
    order_type: OrderType
    price: Price | None = None
    quantity: Quantity | None = None
    quote_quantity: Quantity | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.REJECT_TAKER
    client_id: ClientId | None = None
    broker_id: Annotated[int, Meta(ge=0, le=2**16 - 1)] | None = None
    reduce_only: Literal[False] = False
    auto_lend: Literal[False] = False
    auto_lend_redeem: Literal[False] = False
    auto_borrow: Literal[False] = False
    auto_borrow_repay: Literal[False] = False

    rules = (
        Rule("Limit orders must specify a `price` and a `quantity`", ("orderType", "Limit"), ("price", "quantity")),
        Rule("Market orders must specify a `quantity` or `quoteQuantity`", ("orderType", "Market"),
             one_of=("quantity", "quoteQuantity")),
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


class OrderRef(Message):
    """`OrderCancelPayload`: one order of a market, by exactly one of its ids."""

    symbol: Symbol
    order_id: Id | None = None
    client_id: ClientId | None = None

    rules = (Rule("Must specify either `clientId` or `orderId`", one_of=("orderId", "clientId")),)


class OrderRefQuery(OrderRef, forbid_unknown_fields=False):
    """orderQuery: `OrderRef` in a query string."""


class MarketQuery(Query):
    """A query naming one market."""

    symbol: Symbol


class DepthQuery(MarketQuery):
    """`/depth`: how many levels a side at most."""

    limit: DepthLimit = DEPTH_LIMITS[-1]


Daily = Literal["1d"]
"""A ticker's `interval`: tickers are rolling 24-hour statistics."""


class TickersQuery(Query):
    """Every market's rolling 24-hour statistics."""

    interval: Daily | None = None


class TickerQuery(MarketQuery):
    """One market's rolling 24-hour statistics."""

    interval: Daily | None = None


class KlinesQuery(MarketQuery):
    """`/klines`: candles of `interval` starting in `[startTime, endTime)`, in seconds."""

    interval: Annotated[str, one_of(marketdata.INTERVALS)]
    start_time: Seconds
    end_time: Seconds | None = None
    price_type: Literal["Last"] = "Last"


class TradesQuery(MarketQuery):
    """Recent trades, newest first."""

    limit: Limit = 100


class TradesHistoryQuery(TradesQuery):
    """Older trades, newest first, paged."""

    offset: Offset = 0


class OrdersQuery(Query):
    """Open orders (or PnL), optionally of one market."""

    symbol: Symbol | None = None


class PageQuery(Query):
    """One page of a listing."""

    limit: Limit = 100
    offset: Offset = 0


class SortedQuery(PageQuery):
    """One page of a history, newest first unless `sortDirection=Asc`."""

    sort_direction: Sort = "Desc"

    @property
    def ascending(self) -> bool:
        """Whether a listing runs oldest first (`sortDirection=Asc`)."""
        return self.sort_direction == "Asc"


class HistoryQuery(SortedQuery):
    """The account's orders, optionally of one market or one order."""

    symbol: Symbol | None = None
    order_id: Id | None = None


class FillsQuery(HistoryQuery):
    """The account's fills, also by time (`from`/`to`, ms, both ends included)."""

    since: Milliseconds | None = field(default=None, name="from")
    until: Milliseconds | None = field(default=None, name="to")
    fill_type: Annotated[str, text(64)] | None = None


class TransfersQuery(SortedQuery):
    """The account's deposits or withdrawals by time (`from`/`to`, ms, both ends included)."""

    since: Milliseconds | None = field(default=None, name="from")
    until: Milliseconds | None = field(default=None, name="to")


class BlockchainQuery(Query):
    """A deposit address: on which network."""

    blockchain: Blockchain


def window(since: int | None, until: int | None) -> tuple[int | None, int | None]:
    """`from`/`to` in ms, both ends included, as `[start, end)` in µs (None: unbounded)."""
    return None if since is None else since * 1000, None if until is None else until * 1000 + 1000


def klines_window(wanted: KlinesQuery, *, now: int) -> tuple[str, int, int]:
    """(interval, start, end) of `/klines` in seconds, the newest `MAX_KLINES` kept.

    Candles starting in `[start, end)` are answered; without `endTime`, `end` is just past
    `now`, so the candle that opened in this very second is among them."""
    end = now + 1 if wanted.end_time is None else wanted.end_time
    if end < wanted.start_time:
        raise ApiError(400, Code.INVALID_RANGE, "endTime must not be before startTime")
    seconds = marketdata.INTERVALS[wanted.interval].seconds or MONTH_SECONDS
    return wanted.interval, max(wanted.start_time, end - seconds * MAX_KLINES), end


class AccountUpdate(Message):
    """`accountUpdate`: Backpack's account settings, whose defaults are their values on a spot-only exchange (no
    borrowing, no lending, no futures PnL to realize, no leverage). A setting may only be restated: another value
    is 400 UNSUPPORTED_SETTING (a refusal of the domain: the schema allows any value of the type)."""

    auto_borrow_settlements: bool = False
    auto_lend: bool = False
    auto_realize_pnl: bool = False
    auto_repay_borrows: bool = False
    leverage_limit: Positive = Decimal(1)

    def __post_init__(self) -> None:
        for setting in structs.fields(self):
            if getattr(self, setting.name) != setting.default:
                spot = SPOT_SETTINGS[setting.encode_name]
                raise ApiError(
                    400,
                    Code.UNSUPPORTED_SETTING,
                    f"{setting.encode_name} cannot be changed: this is a spot exchange without margin, lending or "
                    f"leverage ({setting.encode_name} is always {str(spot).lower()})",
                )


SPOT_SETTINGS: dict[str, bool | Decimal] = {s.encode_name: s.default for s in structs.fields(AccountUpdate)}
"""The spot settings by wire name (what `/api/v1/account` answers)."""


# -- the project's own -----------------------------------------------------------------


class SymbolRef(Message):
    """A request naming one market (cancel all, halt, resume)."""

    symbol: Symbol


class AccountRequest(Message):
    """`accountCreate`: the new key, the scopes asked for (None: the default; may be none) and a note."""

    public_key: PublicKey
    scopes: Annotated[str, text(64, 0, f"({SCOPES})?")] | None = None
    label: Annotated[str, text(200)] | None = None


class KeyRequest(Message):
    """`keyCreate`: the key to add and its scopes (None: the signer's own but admin)."""

    public_key: PublicKey
    scopes: Annotated[str, text(64, 1, SCOPES)] | None = None


class KeyRef(Message):
    """`keyRevoke`: the key to revoke."""

    public_key: PublicKey


class TransferRequest(Message):
    """`withdraw`: the asset, the amount, the caller's idempotency key."""

    symbol: AssetRef
    quantity: Quantity
    transfer_id: IdempotencyKey | None = None


BY_REFERENCE = "a deposit by address is identified by its transactionHash: no transferId or accountId"


class DepositRequest(TransferRequest):
    """`deposit`: to the signer's account or, the operator's, to `accountId`; an on-ramp deposit by reference names
    the account's deposit `address` and its chain transaction instead."""

    account_id: Id | None = None
    address: ChainText | None = None
    transaction_hash: ChainText | None = None

    rules = (
        Rule(BY_REFERENCE, ("address", None), ("transactionHash",), absent=("transferId", "accountId")),
        Rule(BY_REFERENCE, ("transactionHash", None), ("address",)),
    )


class AssetRequest(Message):
    """`assetCreate`: `blockchains` comma-separated, default `DEFAULT_BLOCKCHAINS`."""

    symbol: AssetSymbol
    decimals: Annotated[int, Meta(ge=0, le=36)]
    blockchains: Annotated[str, text(32 * 8 + 7, 1, BLOCKCHAINS)] | None = None

    def asset(self) -> Asset:
        """The asset to list (InvalidInput if the engine's rules refuse it)."""
        chains = DEFAULT_BLOCKCHAINS if self.blockchains is None else tuple(self.blockchains.split(","))
        return Asset(symbol=self.symbol, decimals=self.decimals, blockchains=chains)


class MarketRequest(Message):
    """`marketCreate`: a market's terms, its assets by symbol (the route looks them up)."""

    base_symbol: AssetRef
    quote_symbol: AssetRef
    tick_size: Positive
    step_size: Positive
    min_quantity: Positive
    symbol: MarketSymbol | None = None
    maker_fee_bps: Annotated[int, Meta(ge=0, le=9_999)] = 0
    taker_fee_bps: Annotated[int, Meta(ge=0, le=9_999)] = 0
    band_min: Positive | None = field(default=None, name="minMultiplier")
    """The price band's multipliers of the last trade price (`Market.band`): both or neither."""
    band_max: Positive | None = field(default=None, name="maxMultiplier")

    @property
    def name(self) -> str:
        """The market's symbol: `symbol`, or BASE_QUOTE when none is given."""
        return self.symbol or f"{self.base_symbol}_{self.quote_symbol}"


# -- transfers on chains ----------------------------------------------------------------


class WithdrawalRequest(Message):
    """`withdraw` on Backpack's route: what, how much, where to, and the caller's idempotency key.

    `clientId` is the idempotency key of the withdrawal, as `transferId` is of the project's own
    withdraw route; the route checks the asset, its networks and the funds."""

    symbol: AssetRef
    quantity: Quantity
    address: ChainText
    blockchain: Blockchain
    client_id: IdempotencyKey | None = None


class Settlement(Message):
    """The operator's `withdrawalConfirm` / `withdrawalFail`: the withdrawal's number and, if sent, its transaction."""

    id: Id
    transaction_hash: ChainText | None = None
