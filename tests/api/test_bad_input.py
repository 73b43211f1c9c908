"""The bad-input corpus: hundreds of distinct malformed requests over every route, against a real server.

The corpus is generated, route x field x bad value, from one table of operations
(`OPERATIONS`, each with a valid request) and one table of bad values per kind of
field (`BAD`); hand-written cases add what a matrix cannot say (headers, content
types, body shapes and sizes, ids of other accounts) and every route of the app gets
a request with a method it does not serve. Each case is one real request to a real
server; for each the test asserts a 4xx reply with a Backpack `code` (and the exact
status and code where the case states them), within a bounded client timeout, and
that nothing changed: both accounts' balances, open orders and keys, the books, the
markets and the assets are compared before and after. Text that breaks the edge's
rules (control characters, lone surrogates, over-long values) is signed whenever it
can be encoded, so that only the edge's own check stands between it and the engine
or the database.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Route, WebSocketRoute

from exchange.api.auth import KeyPair
from exchange.app import routes
from tests.api.client import Client, ok, signed_form
from tests.api.conftest import Exchange

TIMEOUT = httpx.Timeout(5.0)
"""The longest any refusal may take: a slower reply fails its case as a hang."""

BAD_REQUEST = "INVALID_CLIENT_REQUEST"


# -- the operations and their valid requests ------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One route and method with a valid request; `signer` is who signs it (None: public)."""

    name: str
    method: str
    path: str
    instruction: str | None
    good: dict[str, Any]
    signer: str | None = "mallory"
    batch: bool = False


ORDER = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "1", "quantity": "1"}
WINDOW = {"from": "0", "to": "1000", "limit": "10", "offset": "0"}
OPERATIONS = [
    Operation("market", "GET", "/api/v1/market", None, {"symbol": "SOL_USDC"}, signer=None),
    Operation("depth", "GET", "/api/v1/depth", None, {"symbol": "SOL_USDC", "limit": "5"}, signer=None),
    Operation("ticker", "GET", "/api/v1/ticker", None, {"symbol": "SOL_USDC", "interval": "1d"}, signer=None),
    Operation("tickers", "GET", "/api/v1/tickers", None, {"interval": "1d"}, signer=None),
    Operation(
        "klines",
        "GET",
        "/api/v1/klines",
        None,
        {"symbol": "SOL_USDC", "interval": "1m", "startTime": "0", "endTime": "60"},
        signer=None,
    ),
    Operation("trades", "GET", "/api/v1/trades", None, {"symbol": "SOL_USDC", "limit": "10"}, signer=None),
    Operation(
        "trades-history",
        "GET",
        "/api/v1/trades/history",
        None,
        {"symbol": "SOL_USDC", "limit": "10", "offset": "0"},
        signer=None,
    ),
    Operation("capital", "GET", "/api/v1/capital", "balanceQuery", {"symbol": "SOL_USDC"}),
    Operation("order-query", "GET", "/api/v1/order", "orderQuery", {"symbol": "SOL_USDC", "orderId": "$mallory_order"}),
    Operation("order-execute", "POST", "/api/v1/order", "orderExecute", {**ORDER, "clientId": 5, "postOnly": True}),
    Operation(
        "order-cancel", "DELETE", "/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": "$mallory_order"}
    ),
    Operation("orders-execute", "POST", "/api/v1/orders", "orderExecute", ORDER, batch=True),
    Operation("orders-query", "GET", "/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"}),
    Operation("orders-cancel", "DELETE", "/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"}),
    Operation(
        "order-history",
        "GET",
        "/wapi/v1/history/orders",
        "orderHistoryQueryAll",
        {"symbol": "SOL_USDC", "orderId": "1", "limit": "10", "offset": "0"},
    ),
    Operation(
        "fill-history",
        "GET",
        "/wapi/v1/history/fills",
        "fillHistoryQueryAll",
        {"symbol": "SOL_USDC", "fillType": "User", **WINDOW},
    ),
    Operation("account", "GET", "/api/v1/account", "accountQuery", {}),
    Operation("account-update", "PATCH", "/api/v1/account", "accountUpdate", {"autoLend": False, "leverageLimit": "1"}),
    Operation("deposits", "GET", "/wapi/v1/capital/deposits", "depositQueryAll", WINDOW),
    Operation("pnl", "GET", "/exchange/v1/pnl", "pnlQuery", {"symbol": "SOL_USDC"}),
    Operation("withdrawals", "GET", "/wapi/v1/capital/withdrawals", "withdrawalQueryAll", WINDOW),
    Operation(
        "withdrawal-request",
        "POST",
        "/wapi/v1/capital/withdrawals",
        "withdraw",
        {"symbol": "USDC", "quantity": "1", "address": "Dest1", "blockchain": "Solana"},
    ),
    Operation(
        "deposit-address", "GET", "/wapi/v1/capital/deposit/address", "depositAddressQuery", {"blockchain": "Solana"}
    ),
    Operation(
        "account-create",
        "POST",
        "/exchange/v1/accounts",
        "accountCreate",
        {"publicKey": "$fresh_key", "scopes": "read", "label": "desk"},
        signer="admin",
    ),
    Operation("key-create", "POST", "/exchange/v1/keys", "keyCreate", {"publicKey": "$fresh_key", "scopes": "read"}),
    Operation("key-list", "GET", "/exchange/v1/keys", "keyQueryAll", {"note": "mine"}),
    Operation("key-revoke", "DELETE", "/exchange/v1/keys", "keyRevoke", {"publicKey": "$spare_key"}),
    Operation(
        "deposit",
        "POST",
        "/exchange/v1/capital/deposit",
        "deposit",
        {"symbol": "USDC", "quantity": "1", "transferId": "$transfer_id"},
    ),
    Operation(
        "withdraw",
        "POST",
        "/exchange/v1/capital/withdraw",
        "withdraw",
        {"symbol": "USDC", "quantity": "1", "transferId": "$transfer_id"},
    ),
    Operation("asset-create", "POST", "/admin/v1/assets", "assetCreate", {"symbol": "ZZZ", "decimals": "2"}, "admin"),
    Operation(
        "market-create",
        "POST",
        "/admin/v1/markets",
        "marketCreate",
        {
            "baseSymbol": "SOL",
            "quoteSymbol": "BTC",
            "tickSize": "0.000001",
            "stepSize": "0.01",
            "minQuantity": "0.01",
            "takerFeeBps": "10",
        },
        signer="admin",
    ),
    Operation("market-halt", "POST", "/admin/v1/markets/halt", "marketHalt", {"symbol": "SOL_USDC"}, signer="admin"),
    Operation(
        "market-resume", "POST", "/admin/v1/markets/resume", "marketResume", {"symbol": "SOL_USDC"}, signer="admin"
    ),
    Operation(
        "withdrawals-pending",
        "GET",
        "/admin/v1/withdrawals",
        "withdrawalQueryPending",
        {"limit": "10", "offset": "0"},
        signer="admin",
    ),
    Operation(
        "withdrawal-confirm",
        "POST",
        "/admin/v1/withdrawals/confirm",
        "withdrawalConfirm",
        {"id": "1", "transactionHash": "0xabc"},
        signer="admin",
    ),
    Operation("withdrawal-fail", "POST", "/admin/v1/withdrawals/fail", "withdrawalFail", {"id": "1"}, signer="admin"),
    Operation("engine", "GET", "/admin/v1/engine", "engineQuery", {"note": "state"}, signer="admin"),
]

# -- bad values, by kind of field -------------------------------------------------------

TEXT_BAD = {
    "nul": "x\x00y",
    "tab": "x\ty",
    "newline": "x\ny",
    "escape": "x\x1b[2J",
    "del": "x\x7f",
    "c1": "x\x85y",
    "line-separator": "x\u2028y",
    "bidi-override": "x\u202ey",
    "surrogate": "\ud800",
    "low-surrogate": "x\udfff",
    "long": "S" * 257,
}
"""Text that no field accepts: every field of every operation is tried with each."""

BAD: dict[str, dict[str, Any]] = {
    "decimal": {
        "exponent": "1e2",
        "nan": "NaN",
        "infinity": "Infinity",
        "hex": "0x10",
        "spaced": " 1",
        "plus": "+1",
        "underscore": "1_0",
        "arabic-digits": "\u0661\u0662",
        "fullwidth": "\uff11",
        "empty": "",
        "negative": "-1",
        "zero": "0",
        "forty-one-digits": "1" * 41,
        "object": {"value": 1},
        "list": [1],
    },
    "uint": {
        "negative": "-1",
        "fraction": "1.5",
        "word": "abc",
        "arabic-digit": "\u0663",
        "huge": "9" * 30,
        "empty": "",
        "exponent": "1e3",
        "bool": True,
    },
    "time": {
        "year-10000": "253402300800000",
        "2^53": str(2**53),
        "2^63": str(2**63),
        "negative": "-1",
        "exponent": "1e3",
        "fraction": "1.5",
    },
    "enum": {"lowercase": "bid", "other": "Buy", "empty": "", "padded": "GTC ", "number": 1},
    "bool": {"yes": "yes", "one": "1", "capital": "True", "number": 1},
}

FIELD_KINDS = {
    "price": "decimal",
    "quantity": "decimal",
    "quoteQuantity": "decimal",
    "tickSize": "decimal",
    "stepSize": "decimal",
    "minQuantity": "decimal",
    "clientId": "uint",
    "orderId": "uint",
    "limit": "uint",
    "offset": "uint",
    "decimals": "uint",
    "accountId": "uint",
    "takerFeeBps": "uint",
    "startTime": "time",
    "endTime": "time",
    "from": "time",
    "to": "time",
    "side": "enum",
    "orderType": "enum",
    "timeInForce": "enum",
    "selfTradePrevention": "enum",
    "interval": "enum",
    "sortDirection": "enum",
    "postOnly": "bool",
}
EXTRA_FIELDS = {"order-execute": {"timeInForce": "GTC", "selfTradePrevention": "RejectTaker"}}
"""Optional fields tried too, beyond the valid request's own."""


# -- cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One malformed request and what it must get: always a 4xx with a code; `status`/`code` exactly if given."""

    id: str
    operation: Operation
    params: Any
    signer: str | None = "operation"
    headers: dict[str, str | bytes] = field(default_factory=dict)
    body: bytes | None = None
    method: str | None = None
    status: int | None = None
    code: str | None = None


def _valid(operation: Operation, **change: Any) -> Any:
    """The operation's valid request (with its optional fields), changed as given."""
    params = {**operation.good, **EXTRA_FIELDS.get(operation.name, {}), **change}
    return [params] if operation.batch else params


def _matrix() -> Iterator[Case]:
    for op in OPERATIONS:
        names = [*op.good, *EXTRA_FIELDS.get(op.name, {})]
        for name in names:
            for kind, value in TEXT_BAD.items():
                # A query string cannot carry a lone surrogate: its bytes arrive as U+FFFD, some other 4xx.
                exact = op.method != "GET" or "surrogate" not in kind
                yield Case(
                    f"{op.name}-{name}-{kind}",
                    op,
                    _valid(op, **{name: value}),
                    status=400 if exact else None,
                    code=BAD_REQUEST if exact else None,
                )
            # A batch answers a bad field of one order in that order's result (Backpack's 200 with `Err`).
            for kind, value in {} if op.batch else BAD.get(FIELD_KINDS.get(name, ""), {}).items():
                if op.method == "GET" and not isinstance(value, str):
                    continue
                yield Case(f"{op.name}-{name}-{kind}", op, _valid(op, **{name: value}), status=400)
        if op.method != "GET":
            for kind, key in (("surrogate", "\ud800"), ("nul", "a\x00b"), ("long", "k" * 257)):
                yield Case(f"{op.name}-field-name-{kind}", op, {key: []}, status=400, code=BAD_REQUEST)
                yield Case(f"{op.name}-field-name-{kind}-unsigned", op, {key: []}, None, status=400, code=BAD_REQUEST)


HEADER_CASES: dict[str, tuple[str | None, dict[str, str | bytes], int, str]] = {
    "unsigned": (None, {}, 401, "UNAUTHORIZED"),
    "stranger": ("stranger", {}, 401, "UNAUTHORIZED"),
    "timestamp-word": ("operation", {"X-Timestamp": "soon"}, 401, "UNAUTHORIZED"),
    "timestamp-2^63": ("operation", {"X-Timestamp": str(2**63)}, 401, "UNAUTHORIZED"),
    "timestamp-stale": ("operation", {"X-Timestamp": "1"}, 401, "UNAUTHORIZED"),
    "timestamp-latin1": ("operation", {"X-Timestamp": b"1\xe9"}, 401, "UNAUTHORIZED"),
    "window-huge": ("operation", {"X-Window": "99999999"}, 401, "UNAUTHORIZED"),
    "window-negative": ("operation", {"X-Window": "-1"}, 401, "UNAUTHORIZED"),
    "key-not-base64": ("operation", {"X-API-Key": "not base64!"}, 401, "UNAUTHORIZED"),
    "key-short": ("operation", {"X-API-Key": "AAAA"}, 401, "UNAUTHORIZED"),
    "signature-garbage": ("operation", {"X-Signature": "%%%"}, 401, "INVALID_SIGNATURE"),
    "signature-other-instruction": ("other-instruction", {}, 401, "INVALID_SIGNATURE"),
}
"""Bad signing headers, each tried on every signed operation."""

MEDIA_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "")
"""Content types a JSON body must not be sent with ('' is none at all)."""


def _header_cases() -> Iterator[Case]:
    for op in OPERATIONS:
        if op.instruction is not None:
            for kind, (signer, headers, status, code) in HEADER_CASES.items():
                yield Case(f"{op.name}-header-{kind}", op, _valid(op), signer, headers, status=status, code=code)
        if op.method != "GET":  # a valid, validly signed request but for its content type
            for media_type in MEDIA_TYPES:
                kind = media_type.split("/")[-1].split(";")[0] or "missing"
                declared: dict[str, str | bytes] = {"Content-Type": media_type}
                yield Case(f"{op.name}-content-type-{kind}", op, _valid(op), headers=declared, status=415)


def _body_cases() -> Iterator[Case]:
    bodies = {
        "truncated": b'{"symbol": "SOL_USDC"',
        "nan": b'{"symbol": "SOL_USDC", "price": NaN}',
        "duplicate-key": b'{"symbol": "SOL_USDC", "symbol": "BTC_USDC"}',
        "not-utf8": b'{"symbol": "\xff"}',
        "encoded-surrogate": b'{"symbol": "\xed\xa0\x80"}',
        "deep": b"[" * 20_000 + b"]" * 20_000,
        "string": b'"SOL_USDC"',
        "number": b"12",
        "nested": b'{"symbol": {"a": {"b": 1}}}',
    }
    for op in OPERATIONS:
        if op.method == "GET":
            continue
        for kind, body in bodies.items():
            yield Case(f"{op.name}-body-{kind}", op, op.good, body=body, status=400, code=BAD_REQUEST)
        yield Case(f"{op.name}-body-too-big", op, {**op.good, "pad": "x" * 70_000}, status=413, code=BAD_REQUEST)
        shape = ([op.good], "array") if not op.batch else (op.good, "object")
        yield Case(f"{op.name}-body-{shape[1]}", op, shape[0], status=400, code=BAD_REQUEST)


OP = {op.name: op for op in OPERATIONS}
ORDERS_21 = [ORDER] * 21
SPECIAL = [
    # The issue's own findings.
    Case(
        "withdraw-transferId-nul-halts-nothing",
        OP["withdraw"],
        {"symbol": "USDC", "quantity": "1", "transferId": "x\x00y"},
        status=400,
    ),
    Case("account-label-nul", OP["account-create"], {"publicKey": "$fresh_key", "label": "a\x00b"}, status=400),
    Case(
        "klines-year-10000",
        OP["klines"],
        {"symbol": "SOL_USDC", "interval": "1m", "startTime": "253402300800"},
        status=400,
    ),
    Case("fills-from-and-to-2^53", OP["fill-history"], {"from": str(2**53), "to": str(2**53)}, status=400),
    Case("deposits-only-to-2^53", OP["deposits"], {"to": str(2**53)}, status=400),
    Case("withdrawals-only-from-2^53", OP["withdrawals"], {"from": str(2**53)}, status=400),
    Case(
        "klines-end-before-start",
        OP["klines"],
        {"symbol": "SOL_USDC", "interval": "1m", "startTime": "60", "endTime": "0"},
        status=400,
        code="INVALID_RANGE",
    ),
    # Sizes, enums and amounts the matrix does not reach.
    Case("orders-execute-empty", OP["orders-execute"], [], status=400),
    Case("orders-execute-21", OP["orders-execute"], ORDERS_21, status=400),
    Case("order-off-tick", OP["order-execute"], {**ORDER, "price": "1.001"}, status=400, code="INVALID_PRICE"),
    Case("order-off-step", OP["order-execute"], {**ORDER, "quantity": "1.001"}, status=400, code="INVALID_QUANTITY"),
    Case(
        "order-too-big", OP["order-execute"], {**ORDER, "quantity": "100000000"}, status=400, code="INSUFFICIENT_FUNDS"
    ),
    Case("order-unknown-field", OP["order-execute"], {**ORDER, "leverage": "10"}, status=400),
    Case("order-reduce-only", OP["order-execute"], {**ORDER, "reduceOnly": True}, status=400),
    Case(
        "order-market-both-sizes",
        OP["order-execute"],
        {**ORDER, "orderType": "Market", "price": None, "quoteQuantity": "1"},
        status=400,
    ),
    Case("order-clientId-2^32", OP["order-execute"], {**ORDER, "clientId": 2**32}, status=400),
    Case("order-no-symbol", OP["order-execute"], {k: v for k, v in ORDER.items() if k != "symbol"}, status=400),
    Case(
        "order-query-both-ids",
        OP["order-query"],
        {"symbol": "SOL_USDC", "orderId": "$mallory_order", "clientId": "11"},
        status=400,
    ),
    Case("order-cancel-no-id", OP["order-cancel"], {"symbol": "SOL_USDC"}, status=400),
    Case("depth-limit-7", OP["depth"], {"symbol": "SOL_USDC", "limit": "7"}, status=400),
    Case(
        "klines-month-far-future",
        OP["klines"],
        {"symbol": "SOL_USDC", "interval": "1month", "startTime": "0", "endTime": str(10**12)},
        status=400,
    ),
    Case(
        "withdraw-more-than-held",
        OP["withdraw"],
        {"symbol": "USDC", "quantity": "1000000000"},
        status=400,
        code="INSUFFICIENT_FUNDS",
    ),
    Case(
        "withdraw-unknown-asset", OP["withdraw"], {"symbol": "NOPE", "quantity": "1"}, status=400, code="INVALID_ASSET"
    ),
    Case(
        "deposit-off-atom",
        OP["deposit"],
        {"symbol": "USDC", "quantity": "0.0000001"},
        status=400,
        code="INVALID_QUANTITY",
    ),
    Case(
        "withdraw-off-atom",
        OP["withdraw"],
        {"symbol": "USDC", "quantity": "0.0000001"},
        status=400,
        code="INVALID_QUANTITY",
    ),
    Case("asset-decimals-37", OP["asset-create"], {"symbol": "ZZZ", "decimals": "37"}, status=400),
    Case("asset-symbol-dash", OP["asset-create"], {"symbol": "Z-Z", "decimals": "2"}, status=400),
    Case("asset-symbol-unicode", OP["asset-create"], {"symbol": "\u0416\u0416", "decimals": "2"}, status=400),
    Case("asset-duplicate", OP["asset-create"], {"symbol": "SOL", "decimals": "9"}, status=400, code="INVALID_ASSET"),
    Case(
        "market-duplicate",
        OP["market-create"],
        {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"},
        status=400,
    ),
    Case(
        "market-inexact",
        OP["market-create"],
        {
            "baseSymbol": "SOL",
            "quoteSymbol": "BTC",
            "tickSize": "0.0000000001",
            "stepSize": "0.01",
            "minQuantity": "0.01",
        },
        status=400,
    ),
    Case("market-fee-10000", OP["market-create"], {**OP["market-create"].good, "takerFeeBps": "10000"}, status=400),
    Case(
        "market-unknown-asset",
        OP["market-create"],
        {**OP["market-create"].good, "quoteSymbol": "NOPE"},
        status=400,
        code="INVALID_ASSET",
    ),
    Case("halt-unknown-market", OP["market-halt"], {"symbol": "NOPE_USDC"}, status=400, code="INVALID_MARKET"),
    Case(
        "key-create-admin-scope-unproven", OP["key-create"], {"publicKey": "$fresh_key", "scopes": "admin"}, status=401
    ),
    Case("key-create-unknown-scope", OP["key-create"], {"publicKey": "$fresh_key", "scopes": "read,root"}, status=400),
    Case("key-create-no-scope", OP["key-create"], {"publicKey": "$fresh_key", "scopes": ","}, status=400),
    Case("key-create-bad-key", OP["key-create"], {"publicKey": "AAAA"}, status=400),
    Case("key-create-non-canonical", OP["key-create"], {"publicKey": "$fresh_key_noncanonical"}, status=400),
    Case("account-create-registered-key", OP["account-create"], {"publicKey": "$mallory_key"}, status=400),
    Case("account-scopes-bogus", OP["account-create"], {"publicKey": "$fresh_key", "scopes": "everything"}, status=400),
    # Ids of other accounts: each is refused as if it did not exist, or forbidden.
    Case(
        "order-query-victims-order", OP["order-query"], {"symbol": "SOL_USDC", "orderId": "$victim_order"}, status=404
    ),
    Case("order-query-victims-client-id", OP["order-query"], {"symbol": "SOL_USDC", "clientId": "22"}, status=404),
    Case(
        "order-cancel-victims-order", OP["order-cancel"], {"symbol": "SOL_USDC", "orderId": "$victim_order"}, status=404
    ),
    Case("order-cancel-victims-client-id", OP["order-cancel"], {"symbol": "SOL_USDC", "clientId": 22}, status=404),
    Case("key-revoke-victims-key", OP["key-revoke"], {"publicKey": "$victim_key"}, status=404),
    Case("key-create-victims-key", OP["key-create"], {"publicKey": "$victim_key"}, status=401),
    Case(
        "deposit-to-victim",
        OP["deposit"],
        {"symbol": "USDC", "quantity": "1", "accountId": "$victim_account"},
        status=403,
    ),
    Case(
        "withdraw-from-victim",
        OP["withdraw"],
        {"symbol": "USDC", "quantity": "1", "accountId": "$victim_account"},
        status=400,
    ),
    Case("reader-places-order", OP["order-execute"], ORDER, "reader", status=403, code="FORBIDDEN"),
    Case(
        "reader-withdraws", OP["withdraw"], {"symbol": "USDC", "quantity": "1"}, "reader", status=403, code="FORBIDDEN"
    ),
    Case("mallory-lists-asset", OP["asset-create"], OP["asset-create"].good, "mallory", status=403, code="FORBIDDEN"),
    Case("mallory-halts-market", OP["market-halt"], {"symbol": "SOL_USDC"}, "mallory", status=403, code="FORBIDDEN"),
    Case(
        "mallory-opens-admin-account",
        OP["account-create"],
        {"publicKey": "$fresh_key", "scopes": "admin"},
        "mallory",
        status=403,
    ),
]


def _method_cases() -> Iterator[Case]:
    """A request every route of the app refuses: a method it does not serve (or plain HTTP to a websocket)."""
    seen = set()
    for route in routes():
        if isinstance(route, Route) and route.path not in seen:
            seen.add(route.path)
            path = route.path.replace("{symbol}", "SOL_USDC")
            unserved = "PATCH" if "PUT" in (route.methods or ()) else "PUT"
            op = Operation(f"route{path}", unserved, path, None, {}, signer=None)
            yield Case(f"route-{path}-{unserved}", op, None, None, method=unserved, status=405, code=BAD_REQUEST)
        elif isinstance(route, WebSocketRoute) and route.path != "/":
            op = Operation(f"route{route.path}", "GET", route.path, None, {}, signer=None)
            yield Case(f"route-{route.path}-plain-http", op, None, None, status=404)


CORPUS = [*_matrix(), *_header_cases(), *_body_cases(), *SPECIAL, *_method_cases()]


# -- the world the corpus runs in ------------------------------------------------------


@dataclass
class World:
    """Mallory, who sends the corpus, her victim, and what both own before each case."""

    exchange: Exchange
    mallory: Client
    victim: Client
    reader: Client
    stranger: Client
    spare: KeyPair
    values: dict[str, str]
    http: httpx.Client
    before: Any = None

    def snapshot(self) -> Any:
        """Balances, open orders and keys of both accounts, both books, the markets and the assets."""
        books = []
        for symbol in ("SOL_USDC", "BTC_USDC"):
            depth = ok(self.http.get("/api/v1/depth", params={"symbol": symbol}))
            books.append((depth["bids"], depth["asks"], depth["lastUpdateId"]))
        return (
            [client.balances() for client in (self.mallory, self.victim)],
            [ok(client.get("/api/v1/orders", "orderQueryAll")) for client in (self.mallory, self.victim)],
            [ok(client.get("/exchange/v1/keys", "keyQueryAll")) for client in (self.mallory, self.victim)],
            books,
            ok(self.http.get("/api/v1/markets")),
            ok(self.http.get("/api/v1/assets")),
        )

    def resolve(self, value: Any) -> Any:
        """`value` with its `$placeholders` (ids known only at run time) filled in; fresh ones fresh each time."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items() if item is not None}
        if value == "$fresh_key":
            return KeyPair.generate().public_key
        if value == "$fresh_key_noncanonical":
            return KeyPair.generate().public_key.rstrip("=")
        if value == "$transfer_id":
            return uuid.uuid4().hex
        return self.values.get(value, value) if isinstance(value, str) else value

    def send(self, case: Case) -> httpx.Response:
        """Send the case's request, signed as it says, and return the reply."""
        op = case.operation
        method = case.method or op.method
        params = self.resolve(case.params)
        signer = op.signer if case.signer == "operation" else case.signer
        headers = {
            name.encode(): value if isinstance(value, bytes) else value.encode()
            for name, value in {**self._signature(signer, op, params), **case.headers}.items()
        }
        if method == "GET":
            query = "&".join(f"{quote(str(k))}={_query_value(v)}" for k, v in (params or {}).items())
            return self.http.request(method, f"{op.path}?{query}" if query else op.path, headers=headers)
        body = case.body if case.body is not None else json.dumps(params).encode() if params is not None else b""
        if body:
            headers.setdefault(b"Content-Type", b"application/json")
        if not headers.get(b"Content-Type", b"-"):
            del headers[b"Content-Type"]
        return self.http.request(method, op.path, content=body, headers=headers)

    def _signature(self, signer: str | None, op: Operation, params: Any) -> dict[str, str]:
        if signer is None or op.instruction is None:
            return {}
        keys = {
            "mallory": self.mallory.keys,
            "admin": self.exchange.admin.keys,
            "reader": self.reader.keys,
            "stranger": self.stranger.keys,
            "other-instruction": self.mallory.keys,
        }[signer]
        instruction = "orderCancelAll" if signer == "other-instruction" else op.instruction
        if op.instruction == "orderCancelAll" and signer == "other-instruction":
            instruction = "orderExecute"
        batch = params if isinstance(params, list) else [params or {}]
        forms = [signed_form(p) if isinstance(p, dict) else {} for p in batch]
        try:
            return keys.headers(instruction, forms)
        except UnicodeEncodeError:  # a lone surrogate cannot be signed: a signature over something else
            return keys.headers(instruction, [])


def _query_value(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@pytest.fixture(scope="module")
def world(exchange: Exchange) -> Iterator[World]:
    """Mallory and her victim, funded, each with a resting order; Mallory with a spare read key."""
    mallory, victim = exchange.new_account(), exchange.new_account()
    for client in (mallory, victim):
        client.fund("USDC", "1000")
        client.fund("SOL", "10")
    mallory_order = ok(mallory.place(**ORDER, clientId=11))["id"]
    victim_order = ok(victim.place(**{**ORDER, "price": "2"}, clientId=22))["id"]
    spare = KeyPair.generate()
    ok(mallory.post("/exchange/v1/keys", "keyCreate", {"publicKey": spare.public_key, "scopes": "read"}, new_key=spare))
    values = {
        "$mallory_order": mallory_order,
        "$victim_order": victim_order,
        "$spare_key": spare.public_key,
        "$victim_key": victim.keys.public_key,
        "$mallory_key": mallory.keys.public_key,
        "$victim_account": str(victim.account_id),
    }
    with httpx.Client(base_url=exchange.url, timeout=TIMEOUT) as http:
        world = World(
            exchange=exchange,
            mallory=mallory,
            victim=victim,
            reader=exchange.new_account(scopes="read"),
            stranger=Client(exchange.url, KeyPair.generate()),
            spare=spare,
            values=values,
            http=http,
        )
        world.before = world.snapshot()
        yield world


PARAMLESS = (
    "/api/v1/status",
    "/api/v1/ping",
    "/api/v1/time",
    "/api/v1/securities",
    "/api/v1/assets",
    "/api/v1/markets",
)
"""Routes that read no input: the method cases are their malformed requests."""


def test_the_corpus_is_large_distinct_and_covers_every_api_operation() -> None:
    assert len({case.id for case in CORPUS}) == len(CORPUS) >= 200
    api = {
        (method, route.path)
        for route in routes()
        if isinstance(route, Route) and route.path.startswith(("/api/", "/wapi/", "/exchange/", "/admin/"))
        for method in route.methods or ()
        if method != "HEAD" and route.path not in PARAMLESS
    }
    assert api == {(op.method, op.path) for op in OPERATIONS}


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_bad_input_is_refused_and_changes_nothing(world: World, case: Case) -> None:
    started = time.monotonic()
    reply = world.send(case)
    assert 400 <= reply.status_code < 500, f"{case.id}: {reply.status_code} {reply.text}"
    assert reply.headers["content-type"].startswith("application/json"), reply.text
    code = reply.json()["code"]
    assert isinstance(code, str) and code.isupper(), reply.text
    if case.status is not None:
        assert reply.status_code == case.status, reply.text
    if case.code is not None:
        assert code == case.code, reply.text
    assert time.monotonic() - started < TIMEOUT.read  # type: ignore[operator]
    before, world.before = world.before, world.snapshot()
    assert world.before == before, f"{case.id} changed the state"


def test_trading_goes_on_after_the_corpus(world: World) -> None:
    placed = ok(world.victim.place(**{**ORDER, "price": "3"}))
    ok(world.victim.delete("/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": placed["id"]}))
    assert world.http.get("/ready").status_code == 200


def test_what_clients_send_is_still_accepted(world: World) -> None:
    """Backpack's SDKs add a charset; a request without a body needs no content type at all."""
    mallory = world.mallory
    body = {"symbol": "BTC_USDC"}
    headers = {**mallory.keys.headers("orderCancelAll", [body]), "Content-Type": "application/json; charset=utf-8"}
    assert ok(mallory.http.request("DELETE", "/api/v1/orders", content=json.dumps(body), headers=headers)) == []
    bare = mallory.http.request("DELETE", "/api/v1/orders", headers=mallory.keys.headers("orderCancelAll", [{}]))
    assert (bare.status_code, bare.json()["code"]) == (400, "INVALID_MARKET"), bare.text
    plain = {**mallory.keys.headers("balanceQuery", [{}]), "Content-Type": "text/plain"}
    assert ok(mallory.http.get("/api/v1/capital", headers=plain)) == world.before[0][0]
