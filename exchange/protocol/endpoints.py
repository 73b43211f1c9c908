"""The endpoint table: every HTTP route of the API, declared once.

An `Endpoint` says all a client must know to call a route: its method and path, the
instruction it signs (Backpack's signing scheme names one per operation) and the scope
the signing key needs (none: a public route), its request message (`requests`: query
parameters or a JSON body) and its reply (`replies`), the tag it is documented under, and
the codes it may refuse a well-formed request with (`refusals`: an unknown market, an
off-tick price, insufficient funds...; a request refused for its form always gets
INVALID_CLIENT_REQUEST or its field's code). From this table, and from nothing else, are
derived: the server's Starlette routes and the one preamble that parses, authenticates
and rate-limits every request (`exchange.api.routes`), the OpenAPI document
(`exchange.protocol.openapi`), and the paths and instructions the bots' signed client, the
CLI and the benchmarks call. A route the table does not declare cannot be served, and a
handler for every endpoint must exist (the app refuses to start).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from exchange.protocol import replies as r
from exchange.protocol import requests as q
from exchange.protocol.codes import Code
from exchange.protocol.fields import STRING, Message, Schema, array
from exchange.protocol.requests import Scope


class Tag(StrEnum):
    """Whose route it is: Backpack's (public or signed) or the project's own."""

    PUBLIC = "Backpack public"
    PRIVATE = "Backpack private (signed)"
    OWN = "Exchange's own (signed)"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Endpoint:
    """One operation: method and path, how it is signed, its messages, its refusals and its documentation."""

    method: str
    path: str
    summary: str
    tag: Tag
    reply: Schema
    instruction: str = ""
    """The instruction a request signs (empty: a public endpoint)."""
    scope: Scope | None = None
    query: type[Message] | None = None
    body: type[Message] | None = None
    refusals: tuple[Code, ...] = ()
    """The codes a well-formed request may still be refused with (its form is the schema's)."""
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


# fmt: off
def public(method: str, path: str, summary: str, reply: Schema, **more: Any) -> Endpoint:
    """A Backpack route anyone may call."""
    return Endpoint(method=method, path=path, summary=summary, reply=reply, tag=Tag.PUBLIC, **more)


def signed(tag: Tag, scope: Scope, instruction: str, method: str, path: str, summary: str, reply: Schema,
           **more: Any) -> Endpoint:
    """A route signed for `instruction` by a key holding `scope`."""
    return Endpoint(method=method, path=path, summary=summary, reply=reply, tag=tag, instruction=instruction,
                    scope=scope, **more)


PRIVATE, OWN = Tag.PRIVATE, Tag.OWN
READ, TRADE, ADMIN = Scope.READ, Scope.TRADE, Scope.ADMIN
MAX_BATCH = 20
ORDER, ORDERS, KEYS, ACCOUNT, WITHDRAWALS = (
    "/api/v1/order",
    "/api/v1/orders",
    "/exchange/v1/keys",
    "/api/v1/account",
    "/wapi/v1/capital/withdrawals",
)
"""The paths that serve several methods."""
UNLISTED = (Code.INVALID_MARKET,)
"""The refusal of a route naming a market that is not listed."""
PLACING = (*UNLISTED, Code.INVALID_PRICE, Code.INVALID_QUANTITY, Code.INVALID_ORDER, Code.INSUFFICIENT_FUNDS)
"""An order off its market's tick or step, refused by the engine, or beyond the funds."""
FOUND = (*UNLISTED, Code.RESOURCE_NOT_FOUND)
PROOF = (Code.UNAUTHORIZED, Code.INVALID_SIGNATURE)
"""A missing or wrong proof of possession of a key being added."""
TRANSFER = (Code.INVALID_ASSET, Code.INVALID_QUANTITY, Code.INSUFFICIENT_FUNDS, Code.FORBIDDEN)
ON_CHAIN = (*TRANSFER, Code.INVALID_CLIENT_REQUEST)
"""A transfer on a chain may also name a blockchain its asset is not on, or an address no account has."""
SETTLING = (Code.RESOURCE_NOT_FOUND, Code.INVALID_CLIENT_REQUEST)
"""No such withdrawal, or one already settled the other way."""

STATUS = public("GET", "/api/v1/status", "System status", r.STATUS.ref)
PING = public("GET", "/api/v1/ping", "Ping", STRING, text=True)
TIME = public("GET", "/api/v1/time", "Server time (ms)", STRING, text=True)
SECURITIES = public("GET", "/api/v1/securities", "Tokenized securities (none)", array({}))
ASSETS = public("GET", "/api/v1/assets", "Assets", array(r.ASSET.ref))
MARKETS = public("GET", "/api/v1/markets", "Markets", array(r.MARKET.ref))
ONE_MARKET = public("GET", "/api/v1/market", "One market", r.MARKET.ref, query=q.MarketQuery, refusals=UNLISTED)
DEPTH = public("GET", "/api/v1/depth", "Order book depth, both sides ascending by price", r.DEPTH.ref,
               query=q.DepthQuery, refusals=UNLISTED)
TICKER = public("GET", "/api/v1/ticker", "24h ticker", r.TICKER.ref, query=q.TickerQuery, refusals=UNLISTED)
TICKERS = public("GET", "/api/v1/tickers", "24h tickers", array(r.TICKER.ref), query=q.TickersQuery)
KLINES = public("GET", "/api/v1/klines", "Candles, ascending (startTime/endTime in seconds)", array(r.KLINE.ref),
                query=q.KlinesQuery, refusals=(*UNLISTED, Code.INVALID_RANGE))
TRADES = public("GET", "/api/v1/trades", "Recent trades, newest first", array(r.TRADE.ref), query=q.TradesQuery,
                refusals=UNLISTED)
TRADES_HISTORY = public("GET", "/api/v1/trades/history", "Historical trades, newest first", array(r.TRADE.ref),
                        query=q.TradesHistoryQuery, refusals=UNLISTED)

BALANCES = signed(PRIVATE, READ, "balanceQuery", "GET", "/api/v1/capital", "Balances", r.BALANCES)
ORDER_QUERY = signed(PRIVATE, READ, "orderQuery", "GET", ORDER, "One open order", r.ORDER.ref,
                     query=q.OrderRefQuery, refusals=FOUND)
ORDER_EXECUTE = signed(PRIVATE, TRADE, "orderExecute", "POST", ORDER, "Place an order", r.ORDER.ref,
                       body=q.OrderRequest, refusals=PLACING)
ORDER_CANCEL = signed(PRIVATE, TRADE, "orderCancel", "DELETE", ORDER, "Cancel an order", r.ORDER.ref,
                      body=q.OrderRef, refusals=FOUND)
ORDERS_QUERY = signed(PRIVATE, READ, "orderQueryAll", "GET", ORDERS, "Open orders", array(r.ORDER.ref),
                      query=q.OrdersQuery, refusals=UNLISTED)
ORDERS_EXECUTE = signed(PRIVATE, TRADE, "orderExecute", "POST", ORDERS, f"Place up to {MAX_BATCH} orders",
                        array(r.BATCH_RESULT), batch=MAX_BATCH, body=q.OrderRequest)
ORDERS_CANCEL = signed(PRIVATE, TRADE, "orderCancelAll", "DELETE", ORDERS, "Cancel all orders in a market",
                       array(r.ORDER.ref), body=q.SymbolRef, refusals=UNLISTED)
ORDER_HISTORY = signed(PRIVATE, READ, "orderHistoryQueryAll", "GET", "/wapi/v1/history/orders", "Order history",
                       array(r.ORDER_HISTORY.ref), query=q.HistoryQuery, refusals=UNLISTED)
FILL_HISTORY = signed(PRIVATE, READ, "fillHistoryQueryAll", "GET", "/wapi/v1/history/fills", "Fill history",
                      array(r.FILL.ref), query=q.FillsQuery, refusals=UNLISTED)
ACCOUNT_QUERY = signed(PRIVATE, READ, "accountQuery", "GET", ACCOUNT, "Account settings: spot fees (bps) and limits",
                       r.ACCOUNT_SETTINGS.ref)
ACCOUNT_UPDATE = signed(PRIVATE, TRADE, "accountUpdate", "PATCH", ACCOUNT,
                        "Update account settings: a spot account has no margin, lending or leverage to change "
                        "(restating a setting is a no-op, changing one is 400 UNSUPPORTED_SETTING)",
                        r.ACCOUNT_SETTINGS.ref, body=q.AccountUpdate, refusals=(Code.UNSUPPORTED_SETTING,))
DEPOSIT_HISTORY = signed(PRIVATE, READ, "depositQueryAll", "GET", "/wapi/v1/capital/deposits", "Deposit history",
                         array(r.DEPOSIT.ref), query=q.TransfersQuery)
WITHDRAWAL_HISTORY = signed(PRIVATE, READ, "withdrawalQueryAll", "GET", WITHDRAWALS,
                            "Withdrawal history", array(r.WITHDRAWAL.ref), query=q.TransfersQuery)
WITHDRAWAL_REQUEST = signed(PRIVATE, TRADE, "withdraw", "POST", WITHDRAWALS,
                            "Withdraw from the available balance to an address on one of the asset's blockchains: "
                            "pending until the operator confirms or fails it (idempotent by clientId)",
                            r.WITHDRAWAL.ref, body=q.WithdrawalRequest, refusals=ON_CHAIN)
DEPOSIT_ADDRESS = signed(PRIVATE, READ, "depositAddressQuery", "GET", "/wapi/v1/capital/deposit/address",
                         "The account's stable deposit reference on a blockchain (the on-ramp credits by it)",
                         r.DEPOSIT_ADDRESS.ref, query=q.BlockchainQuery,
                         refusals=(Code.FORBIDDEN, Code.INVALID_CLIENT_REQUEST))

ACCOUNT_CREATE = signed(OWN, ADMIN, "accountCreate", "POST", "/exchange/v1/accounts",
                        "Open an account with an ED25519 public key "
                        "(signed by that key in demo mode, else by an admin)", r.ACCOUNT.ref,
                        body=q.AccountRequest, self_signed=True, refusals=(Code.FORBIDDEN, Code.PRECONDITION_FAILED))
KEY_QUERY_ALL = signed(OWN, READ, "keyQueryAll", "GET", KEYS,
                       "The account's API keys, revoked ones too, oldest first", array(r.API_KEY.ref),
                       refusals=(Code.FORBIDDEN,))
KEY_CREATE = signed(OWN, READ, "keyCreate", "POST", KEYS,
                    "Add an API key to the signer's account, with scopes (comma-separated) among the signer's own",
                    r.API_KEY.ref, body=q.KeyRequest, refusals=(*PROOF, Code.FORBIDDEN, Code.PRECONDITION_FAILED),
                    headers=({"name": "X-Key-Signature", "in": "header", "required": True, "schema": STRING,
                              "description": "Proof of possession: the new key's own signature of the same payload "
                                             "as X-Signature."},))
KEY_REVOKE = signed(OWN, READ, "keyRevoke", "DELETE", KEYS,
                    "Revoke a key of the signer's account (needs all of its scopes; idempotent)", r.API_KEY.ref,
                    body=q.KeyRef, refusals=(Code.FORBIDDEN, Code.RESOURCE_NOT_FOUND))
DEPOSIT = signed(OWN, READ, "deposit", "POST", "/exchange/v1/capital/deposit",
                 "Deposit: the faucet in demo mode, the on-ramp for admins (idempotent by transferId)",
                 r.TRANSFER.ref, body=q.DepositRequest, refusals=ON_CHAIN)
WITHDRAW = signed(OWN, TRADE, "withdraw", "POST", "/exchange/v1/capital/withdraw",
                  "Withdraw from the available balance (idempotent by transferId)", r.TRANSFER.ref,
                  body=q.TransferRequest, refusals=TRANSFER)
PNL = signed(OWN, READ, "pnlQuery", "GET", "/exchange/v1/pnl",
             "Realized and unrealized PnL per market the account traded (average cost in quote, fees included)",
             array(r.PNL.ref), query=q.OrdersQuery, refusals=UNLISTED)
ASSET_CREATE = signed(OWN, ADMIN, "assetCreate", "POST", "/admin/v1/assets",
                      "List an asset, with its blockchains comma-separated (default Solana)", r.ASSET.ref,
                      body=q.AssetRequest, refusals=(Code.INVALID_ASSET, Code.INVALID_CLIENT_REQUEST))
MARKET_CREATE = signed(OWN, ADMIN, "marketCreate", "POST", "/admin/v1/markets", "List a spot market", r.MARKET.ref,
                       body=q.MarketRequest, refusals=(Code.INVALID_ASSET, Code.INVALID_MARKET))
MARKET_HALT = signed(OWN, ADMIN, "marketHalt", "POST", "/admin/v1/markets/halt", "Halt a market",
                     r.MARKET_STATE.ref, body=q.SymbolRef, refusals=UNLISTED)
MARKET_RESUME = signed(OWN, ADMIN, "marketResume", "POST", "/admin/v1/markets/resume", "Resume a market",
                       r.MARKET_STATE.ref, body=q.SymbolRef, refusals=UNLISTED)
WITHDRAWALS_PENDING = signed(OWN, ADMIN, "withdrawalQueryPending", "GET", "/admin/v1/withdrawals",
                             "Withdrawals waiting for the operator, oldest first", array(r.WITHDRAWAL.ref),
                             query=q.PageQuery)
WITHDRAWAL_CONFIRM = signed(OWN, ADMIN, "withdrawalConfirm", "POST", "/admin/v1/withdrawals/confirm",
                            "Mark a pending withdrawal sent, with its transaction (idempotent)", r.WITHDRAWAL.ref,
                            body=q.Settlement, refusals=SETTLING)
WITHDRAWAL_FAIL = signed(OWN, ADMIN, "withdrawalFail", "POST", "/admin/v1/withdrawals/fail",
                         "Mark a pending withdrawal failed: its amount returns to the available balance (idempotent)",
                         r.WITHDRAWAL.ref, body=q.Settlement, refusals=SETTLING)
ENGINE_QUERY = signed(OWN, ADMIN, "engineQuery", "GET", "/admin/v1/engine",
                      "This instance's engine: its role, fencing epoch and state digest (equal to a fresh load's)",
                      r.ENGINE.ref)

ENDPOINTS: tuple[Endpoint, ...] = (
    STATUS, PING, TIME, SECURITIES, ASSETS, MARKETS, ONE_MARKET, DEPTH, TICKER, TICKERS, KLINES, TRADES, TRADES_HISTORY,
    BALANCES, ORDER_QUERY, ORDER_EXECUTE, ORDER_CANCEL, ORDERS_QUERY, ORDERS_EXECUTE, ORDERS_CANCEL,
    ORDER_HISTORY, FILL_HISTORY, ACCOUNT_QUERY, ACCOUNT_UPDATE, DEPOSIT_HISTORY, WITHDRAWAL_HISTORY,
    WITHDRAWAL_REQUEST, DEPOSIT_ADDRESS, ACCOUNT_CREATE, KEY_QUERY_ALL, KEY_CREATE, KEY_REVOKE, DEPOSIT, WITHDRAW, PNL,
    ASSET_CREATE, MARKET_CREATE, MARKET_HALT, MARKET_RESUME,
    WITHDRAWALS_PENDING, WITHDRAWAL_CONFIRM, WITHDRAWAL_FAIL, ENGINE_QUERY,
)
"""Every operation, in the order the document lists them."""
# fmt: on
