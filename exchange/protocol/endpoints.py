"""The endpoint table: every HTTP route of the API, declared once.

An `Endpoint` says all a client must know to call a route: its method and path, the
instruction it signs (Backpack's signing scheme names one per operation) and the scope
the signing key needs (none: a public route), its request message (query parameters or
a JSON body, `messages`) and its reply, and the tag it is documented under. From this
table, and from nothing else, are derived: the server's Starlette routes and the one
preamble that parses, authenticates and rate-limits every request (`exchange.api.routes`),
the OpenAPI document (`exchange.protocol.openapi`), and the paths and instructions the
bots' signed client calls (`exchange.bots.client`). A route the table does not declare
cannot be served, and a handler for every endpoint must exist (the app refuses to start).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exchange import marketdata
from exchange.protocol import capital, requests
from exchange.protocol import messages as m
from exchange.protocol.messages import Schema, array, obj, query, ref
from exchange.protocol.ours import Scope


class Tag(StrEnum):
    """Whose route it is: Backpack's (public or signed) or the project's own."""

    PUBLIC = "Backpack public"
    PRIVATE = "Backpack private (signed)"
    OWN = "Exchange's own (signed)"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Endpoint:
    """One operation: method and path, how it is signed, its messages and its documentation."""

    method: str
    path: str
    summary: str
    tag: Tag
    reply: Schema
    instruction: str = ""
    """The instruction a request signs (empty: a public endpoint)."""
    scope: Scope | None = None
    query: tuple[Schema, ...] = ()
    body: Schema | None = None
    headers: tuple[Schema, ...] = ()
    text: bool = False
    batch: int = 0
    """The most items a batch body holds, each signed with `instruction` (0: the body is one object)."""
    self_signed: bool = False
    """The route authenticates itself (`accountCreate`: by the key it registers, or an admin's)."""

    @property
    def signed(self) -> bool:
        """Whether a request must carry an ED25519 signature for `instruction`."""
        return bool(self.instruction)


def public(
    method: str, path: str, summary: str, reply: Schema, *, query: tuple[Schema, ...] = (), text: bool = False
) -> Endpoint:
    """A Backpack route anyone may call."""
    return Endpoint(method=method, path=path, summary=summary, reply=reply, tag=Tag.PUBLIC, query=query, text=text)


def signed(
    tag: Tag,
    scope: Scope,
    instruction: str,
    method: str,
    path: str,
    summary: str,
    reply: Schema,
    *,
    query: tuple[Schema, ...] = (),
    body: Schema | None = None,
    headers: tuple[Schema, ...] = (),
    batch: int = 0,
    self_signed: bool = False,
) -> Endpoint:
    """A route signed for `instruction` by a key holding `scope`."""
    return Endpoint(
        method=method,
        path=path,
        summary=summary,
        reply=reply,
        tag=tag,
        instruction=instruction,
        scope=scope,
        query=query,
        body=body,
        headers=headers,
        batch=batch,
        self_signed=self_signed,
    )


PRIVATE, OWN = Tag.PRIVATE, Tag.OWN
READ, TRADE, ADMIN = Scope.READ, Scope.TRADE, Scope.ADMIN
MAX_BATCH = 20
ORDER, ORDERS, KEYS, WITHDRAWALS = (
    "/api/v1/order",
    "/api/v1/orders",
    "/exchange/v1/keys",
    "/wapi/v1/capital/withdrawals",
)
"""The paths that serve several methods."""

# fmt: off
STATUS = public("GET", "/api/v1/status", "System status",
                obj({"status": m.STRING, "message": {"type": ["string", "null"]}}))
PING = public("GET", "/api/v1/ping", "Ping", m.STRING, text=True)
TIME = public("GET", "/api/v1/time", "Server time (ms)", m.STRING, text=True)
SECURITIES = public("GET", "/api/v1/securities", "Tokenized securities (none)", array({}))
ASSETS = public("GET", "/api/v1/assets", "Assets", array(ref("Asset")))
MARKETS = public("GET", "/api/v1/markets", "Markets", array(ref("Market")))
MARKET = public("GET", "/api/v1/market", "One market", ref("Market"), query=(m.SYMBOL,))
DEPTH = public("GET", "/api/v1/depth", "Order book depth, both sides ascending by price", ref("Depth"),
               query=(m.SYMBOL, query("limit", {"type": "integer", "enum": list(requests.DEPTH_LIMITS)})))
TICKER = public("GET", "/api/v1/ticker", "24h ticker", ref("Ticker"), query=(m.SYMBOL, m.TICKER_INTERVAL))
TICKERS = public("GET", "/api/v1/tickers", "24h tickers", array(ref("Ticker")), query=(m.TICKER_INTERVAL,))
INTERVAL = query("interval", {"type": "string", "enum": list(marketdata.INTERVALS)}, required=True)
KLINES = public("GET", "/api/v1/klines", "Candles, ascending (startTime/endTime in seconds)", array(ref("Kline")),
                query=(m.SYMBOL, INTERVAL,
                       query("startTime", {"type": "integer", "minimum": 0}, required=True),
                       query("endTime", {"type": "integer", "minimum": 0})))
TRADES = public("GET", "/api/v1/trades", "Recent trades, newest first", array(ref("Trade")), query=(m.SYMBOL, m.LIMIT))
TRADES_HISTORY = public("GET", "/api/v1/trades/history", "Historical trades, newest first", array(ref("Trade")),
                        query=(m.SYMBOL, m.LIMIT, m.OFFSET))

BALANCES = signed(PRIVATE, READ, "balanceQuery", "GET", "/api/v1/capital", "Balances", ref("Balances"))
ORDER_QUERY = signed(PRIVATE, READ, "orderQuery", "GET", ORDER, "One open order", ref("Order"),
                     query=(m.SYMBOL, query("orderId", m.STRING), query("clientId", m.INTEGER)))
ORDER_EXECUTE = signed(PRIVATE, TRADE, "orderExecute", "POST", ORDER, "Place an order", ref("Order"),
                       body=m.ORDER_REQUEST)
ORDER_CANCEL = signed(PRIVATE, TRADE, "orderCancel", "DELETE", ORDER, "Cancel an order", ref("Order"),
                      body=m.ORDER_REF)
ORDERS_QUERY = signed(PRIVATE, READ, "orderQueryAll", "GET", ORDERS, "Open orders", array(ref("Order")),
                      query=(query("symbol", m.STRING),))
ORDERS_EXECUTE = signed(PRIVATE, TRADE, "orderExecute", "POST", ORDERS, f"Place up to {MAX_BATCH} orders",
                        array(ref("BatchResult")), batch=MAX_BATCH,
                        body={**array(m.ORDER_REQUEST), "minItems": 1, "maxItems": MAX_BATCH})
ORDERS_CANCEL = signed(PRIVATE, TRADE, "orderCancelAll", "DELETE", ORDERS, "Cancel all orders in a market",
                       array(ref("Order")), body=m.SYMBOL_BODY)
ORDER_HISTORY = signed(PRIVATE, READ, "orderHistoryQueryAll", "GET", "/wapi/v1/history/orders", "Order history",
                       array(ref("OrderHistory")), query=m.HISTORY)
FILL_HISTORY = signed(PRIVATE, READ, "fillHistoryQueryAll", "GET", "/wapi/v1/history/fills", "Fill history",
                      array(ref("Fill")), query=(*m.HISTORY, *m.TIME_WINDOW, query("fillType", m.STRING)))
DEPOSIT_HISTORY = signed(PRIVATE, READ, "depositQueryAll", "GET", "/wapi/v1/capital/deposits", "Deposit history",
                         array(ref("Deposit")), query=m.TRANSFERS)
WITHDRAWAL_HISTORY = signed(PRIVATE, READ, "withdrawalQueryAll", "GET", WITHDRAWALS,
                            "Withdrawal history", array(ref("Withdrawal")), query=m.TRANSFERS)
WITHDRAWAL_REQUEST = signed(PRIVATE, TRADE, "withdraw", "POST", WITHDRAWALS,
                            "Withdraw from the available balance to an address on one of the asset's blockchains: "
                            "pending until the operator confirms or fails it (idempotent by clientId)",
                            ref("Withdrawal"), body=capital.WITHDRAWAL_REQUEST)
DEPOSIT_ADDRESS = signed(PRIVATE, READ, "depositAddressQuery", "GET", "/wapi/v1/capital/deposit/address",
                         "The account's stable deposit reference on a blockchain (the on-ramp credits by it)",
                         capital.DEPOSIT_ADDRESS, query=(capital.BLOCKCHAIN_QUERY,))

ACCOUNT_CREATE = signed(OWN, ADMIN, "accountCreate", "POST", "/exchange/v1/accounts",
                        "Open an account with an ED25519 public key "
                        "(signed by that key in demo mode, else by an admin)", ref("Account"),
                        body=m.ACCOUNT_REQUEST, self_signed=True)
KEY_QUERY_ALL = signed(OWN, READ, "keyQueryAll", "GET", KEYS,
                       "The account's API keys, revoked ones too, oldest first", array(ref("ApiKey")))
KEY_CREATE = signed(OWN, READ, "keyCreate", "POST", KEYS,
                    "Add an API key to the signer's account, with scopes (comma-separated) among the signer's own",
                    ref("ApiKey"), headers=(m.KEY_SIGNATURE,), body=m.KEY_REQUEST)
KEY_REVOKE = signed(OWN, READ, "keyRevoke", "DELETE", KEYS,
                    "Revoke a key of the signer's account (needs all of its scopes; idempotent)", ref("ApiKey"),
                    body=obj({"publicKey": m.STRING}))
DEPOSIT = signed(OWN, READ, "deposit", "POST", "/exchange/v1/capital/deposit",
                 "Deposit: the faucet in demo mode, the on-ramp for admins (idempotent by transferId)",
                 ref("Transfer"), body=m.DEPOSIT_REQUEST)
WITHDRAW = signed(OWN, TRADE, "withdraw", "POST", "/exchange/v1/capital/withdraw",
                  "Withdraw from the available balance (idempotent by transferId)", ref("Transfer"),
                  body=m.WITHDRAW_REQUEST)
ASSET_CREATE = signed(OWN, ADMIN, "assetCreate", "POST", "/admin/v1/assets",
                      "List an asset, with its blockchains comma-separated (default Solana)", ref("Asset"),
                      body=obj({"symbol": m.STRING, "decimals": m.INTEGER, "blockchains": m.STRING},
                               optional=("blockchains",)))
MARKET_CREATE = signed(OWN, ADMIN, "marketCreate", "POST", "/admin/v1/markets", "List a spot market", ref("Market"),
                       body=m.MARKET_REQUEST)
MARKET_HALT = signed(OWN, ADMIN, "marketHalt", "POST", "/admin/v1/markets/halt", "Halt a market", ref("MarketState"),
                     body=m.SYMBOL_BODY)
MARKET_RESUME = signed(OWN, ADMIN, "marketResume", "POST", "/admin/v1/markets/resume", "Resume a market",
                       ref("MarketState"), body=m.SYMBOL_BODY)
WITHDRAWALS_PENDING = signed(OWN, ADMIN, "withdrawalQueryPending", "GET", "/admin/v1/withdrawals",
                             "Withdrawals waiting for the operator, oldest first", array(ref("Withdrawal")),
                             query=(m.LIMIT, m.OFFSET))
WITHDRAWAL_CONFIRM = signed(OWN, ADMIN, "withdrawalConfirm", "POST", "/admin/v1/withdrawals/confirm",
                            "Mark a pending withdrawal sent, with its transaction (idempotent)", ref("Withdrawal"),
                            body=capital.SETTLEMENT)
WITHDRAWAL_FAIL = signed(OWN, ADMIN, "withdrawalFail", "POST", "/admin/v1/withdrawals/fail",
                         "Mark a pending withdrawal failed: its amount returns to the available balance (idempotent)",
                         ref("Withdrawal"), body=capital.SETTLEMENT)
ENGINE_QUERY = signed(OWN, ADMIN, "engineQuery", "GET", "/admin/v1/engine",
                      "This instance's engine: its role, fencing epoch and state digest (equal to a fresh load's)",
                      obj({"role": m.STRING, "epoch": {"type": ["integer", "null"]},
                           "digest": {"type": ["string", "null"]}}))

ENDPOINTS: tuple[Endpoint, ...] = (
    STATUS, PING, TIME, SECURITIES, ASSETS, MARKETS, MARKET, DEPTH, TICKER, TICKERS, KLINES, TRADES, TRADES_HISTORY,
    BALANCES, ORDER_QUERY, ORDER_EXECUTE, ORDER_CANCEL, ORDERS_QUERY, ORDERS_EXECUTE, ORDERS_CANCEL,
    ORDER_HISTORY, FILL_HISTORY, DEPOSIT_HISTORY, WITHDRAWAL_HISTORY, WITHDRAWAL_REQUEST, DEPOSIT_ADDRESS,
    ACCOUNT_CREATE, KEY_QUERY_ALL, KEY_CREATE, KEY_REVOKE, DEPOSIT, WITHDRAW,
    ASSET_CREATE, MARKET_CREATE, MARKET_HALT, MARKET_RESUME,
    WITHDRAWALS_PENDING, WITHDRAWAL_CONFIRM, WITHDRAWAL_FAIL, ENGINE_QUERY,
)
"""Every operation, in the order the document lists them."""
# fmt: on
