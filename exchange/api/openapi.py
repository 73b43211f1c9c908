"""The OpenAPI 3.1 description of every HTTP route, served at /openapi.json, and a docs page at /docs.

The schemas mirror what `wire.py` produces (decimal strings, ms/µs integers, nullable
extras) and what the parsers accept, and every operation lists its error replies with
the shared `Error` schema; the test suite runs schemathesis against this document, so
a route that drifts from its description fails a test.

/docs renders the document with Swagger UI, whose files come from the `swagger-ui-py`
package (a dependency, not a copy in this repository) and are served from
`/docs/static/`: the page loads nothing from any other host, so the reference works
offline and behind firewalls. The spec validator badge, Swagger UI's one call out, is off.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from exchange import marketdata
from exchange.api import wire
from exchange.api.auth import Scope
from exchange.api.service import JsonResponse

Schema = dict[str, Any]

DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
NULLABLE_DECIMAL: Schema = {"type": ["string", "null"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
INTEGER: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    """An object schema whose properties are all required except `optional`."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def array(items: Schema) -> Schema:
    """An array schema."""
    return {"type": "array", "items": items}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


ENUMS = {
    "Side": ["Bid", "Ask"],
    "OrderTypeName": ["Limit", "Market"],
    "TimeInForce": ["GTC", "IOC", "FOK"],
    "SelfTradePrevention": ["RejectTaker", "RejectMaker", "RejectBoth", "Allow"],
    "OrderStatus": ["New", "PartiallyFilled", "Filled", "Cancelled", "Expired"],
}

_ORDER_NULLS = dict.fromkeys(wire.NULL_ORDER_FIELDS, NULL)


def _order(created_at: Schema, extras: dict[str, Schema]) -> Schema:
    return obj(
        {
            "id": STRING,
            "clientId": {"type": ["integer", "null"]},
            "createdAt": created_at,
            "executedQuantity": DECIMAL,
            "executedQuoteQuantity": DECIMAL,
            "orderType": ref("OrderTypeName"),
            "postOnly": BOOLEAN,
            "price": NULLABLE_DECIMAL,
            "quantity": NULLABLE_DECIMAL,
            "quoteQuantity": NULLABLE_DECIMAL,
            "selfTradePrevention": ref("SelfTradePrevention"),
            "side": ref("Side"),
            "status": ref("OrderStatus"),
            "symbol": STRING,
            "timeInForce": ref("TimeInForce"),
            **_ORDER_NULLS,
            **extras,
        }
    )


NUMBER_INPUT: Schema = {"type": ["string", "number"]}
ORDER_REQUEST = obj(
    {
        "symbol": STRING,
        "side": ref("Side"),
        "orderType": ref("OrderTypeName"),
        "price": NUMBER_INPUT,
        "quantity": NUMBER_INPUT,
        "quoteQuantity": NUMBER_INPUT,
        "timeInForce": ref("TimeInForce"),
        "postOnly": BOOLEAN,
        "selfTradePrevention": ref("SelfTradePrevention"),
        "clientId": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
    },
    optional=("price", "quantity", "quoteQuantity", "timeInForce", "postOnly", "selfTradePrevention", "clientId"),
)
ORDER_REF = obj(
    {"symbol": STRING, "orderId": STRING, "clientId": {"type": "integer", "minimum": 0}},
    optional=("orderId", "clientId"),
)

SCHEMAS: dict[str, Schema] = {
    **{name: {"type": "string", "enum": values} for name, values in ENUMS.items()},
    "Error": obj({"code": STRING, "message": STRING}),
    "Asset": obj(
        {
            "symbol": STRING,
            "displayName": STRING,
            "coingeckoId": NULL,
            "tokens": array(
                obj(
                    {
                        "displayName": STRING,
                        "blockchain": STRING,
                        "contractAddress": NULL,
                        "depositEnabled": BOOLEAN,
                        "minimumDeposit": DECIMAL,
                        "withdrawEnabled": BOOLEAN,
                        "minimumWithdrawal": DECIMAL,
                        "maximumWithdrawal": NULL,
                        "withdrawalFee": DECIMAL,
                        "nativeDecimals": INTEGER,
                    }
                )
            ),
        }
    ),
    "Market": obj(
        {
            "symbol": STRING,
            "baseSymbol": STRING,
            "quoteSymbol": STRING,
            "marketType": {"type": "string", "enum": ["SPOT"]},
            "filters": obj(
                {
                    "price": obj({"minPrice": DECIMAL, "maxPrice": NULL, "tickSize": DECIMAL}),
                    "quantity": obj({"minQuantity": DECIMAL, "maxQuantity": NULL, "stepSize": DECIMAL}),
                }
            ),
            "orderBookState": {"type": "string", "enum": ["Open", "CancelOnly"]},
            "createdAt": STRING,
            "visible": BOOLEAN,
            "makerFeeBps": INTEGER,
            "takerFeeBps": INTEGER,
        }
    ),
    "Ticker": obj(
        {
            "symbol": STRING,
            "firstPrice": DECIMAL,
            "lastPrice": DECIMAL,
            "priceChange": DECIMAL,
            "priceChangePercent": DECIMAL,
            "high": DECIMAL,
            "low": DECIMAL,
            "volume": DECIMAL,
            "quoteVolume": DECIMAL,
            "trades": {"type": "string", "pattern": "^[0-9]+$"},
        }
    ),
    "Depth": obj(
        {
            "asks": array(array(DECIMAL)),
            "bids": array(array(DECIMAL)),
            "lastUpdateId": {"type": "string", "pattern": "^[0-9]+$"},
            "timestamp": {"type": "integer", "description": "microseconds"},
        }
    ),
    "Kline": obj(
        {
            "start": STRING,
            "end": STRING,
            "open": DECIMAL,
            "high": DECIMAL,
            "low": DECIMAL,
            "close": DECIMAL,
            "volume": DECIMAL,
            "quoteVolume": DECIMAL,
            "trades": {"type": "string", "pattern": "^[0-9]+$"},
        }
    ),
    "Trade": obj(
        {
            "id": INTEGER,
            "price": DECIMAL,
            "quantity": DECIMAL,
            "quoteQuantity": DECIMAL,
            "timestamp": {"type": "integer", "description": "milliseconds"},
            "isBuyerMaker": BOOLEAN,
        }
    ),
    "Order": _order({"type": "integer", "description": "milliseconds"}, {"triggeredAt": NULL}),
    "OrderHistory": _order(STRING, {"expiryReason": NULL, "systemOrderType": NULL}),
    "BatchResult": {
        "oneOf": [
            {"allOf": [ref("Order"), obj({"operation": {"const": "Ok"}})]},
            obj({"operation": {"const": "Err"}, "code": STRING, "message": STRING}),
        ]
    },
    "Fill": obj(
        {
            "clientId": {"type": ["string", "null"]},
            "fee": DECIMAL,
            "feeSymbol": STRING,
            "isMaker": BOOLEAN,
            "orderId": STRING,
            "price": DECIMAL,
            "quantity": DECIMAL,
            "side": ref("Side"),
            "symbol": STRING,
            "systemOrderType": NULL,
            "timestamp": STRING,
            "tradeId": INTEGER,
        }
    ),
    "Deposit": obj(
        {
            "id": INTEGER,
            "toAddress": NULL,
            "fromAddress": NULL,
            "confirmationBlockNumber": NULL,
            "identifier": STRING,
            "source": {"const": wire.DEPOSIT_SOURCE},
            "status": {"const": wire.TRANSFER_STATUS},
            "transactionHash": NULL,
            "subaccountId": NULL,
            "symbol": STRING,
            "quantity": DECIMAL,
            "createdAt": STRING,
            "fiatAmount": NULL,
            "fiatCurrency": NULL,
            "institutionBic": NULL,
            "platformMemo": NULL,
        }
    ),
    "Withdrawal": obj(
        {
            "id": INTEGER,
            "blockchain": NULL,
            "clientId": NULL,
            "identifier": STRING,
            "quantity": DECIMAL,
            "fee": DECIMAL,
            "symbol": STRING,
            "status": {"const": wire.TRANSFER_STATUS},
            "subaccountId": NULL,
            "toAddress": NULL,
            "transactionHash": NULL,
            "createdAt": STRING,
            "isInternal": BOOLEAN,
            "triggerAt": NULL,
            "accountIdentifier": NULL,
            "bankIdentifier": NULL,
            "bankName": NULL,
            "fiatFee": NULL,
            "fiatState": NULL,
            "fiatSymbol": NULL,
            "providerId": NULL,
        }
    ),
    "Balances": {
        "type": "object",
        "additionalProperties": obj({"available": DECIMAL, "locked": DECIMAL, "staked": DECIMAL}),
    },
    "Transfer": obj(
        {
            "transferId": STRING,
            "accountId": INTEGER,
            "symbol": STRING,
            "quantity": DECIMAL,
            "status": STRING,
            "duplicate": BOOLEAN,
        }
    ),
    "Account": obj({"accountId": INTEGER, "publicKey": STRING, "scopes": array(STRING)}),
    "ApiKey": obj(
        {
            "publicKey": STRING,
            "scopes": array({"type": "string", "enum": [scope.value for scope in Scope]}),
            "createdAt": {"type": "integer", "description": "milliseconds"},
            "revoked": BOOLEAN,
        }
    ),
    "MarketState": obj({"symbol": STRING, "orderBookState": {"type": "string", "enum": ["Open", "CancelOnly"]}}),
}

_ERRORS = {"400", "401", "403", "404", "413", "415", "429", "503"}


def _query(name: str, schema: Schema, *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema}


TEXT_INPUT: Schema = {
    "maxLength": wire.MAX_TEXT_LENGTH,
    "pattern": f"^[^{wire.FORBIDDEN_CHARACTERS}]*$",
}
"""What every text a request sends obeys (`wire.check_text`): its length limit and no control characters."""


def _input(schema: Any) -> Any:
    """A copy of a request's schema with `TEXT_INPUT` on each of its free-text strings."""
    if isinstance(schema, list):
        return [_input(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _input(value) for key, value in schema.items()}
    if copy.get("type") == "string" and not {"enum", "pattern", "const"} & copy.keys():
        copy.update(TEXT_INPUT)
    return copy


def _operation(
    summary: str,
    response: Schema | None,
    *,
    parameters: list[Schema] | None = None,
    body: Schema | None = None,
    instruction: str | None = None,
    text: bool = False,
) -> Schema:
    content_type = "text/plain" if text else "application/json"
    ok: Schema = {"description": "OK"}
    if response is not None:
        ok["content"] = {content_type: {"schema": response}}
    responses: Schema = {"200": ok}
    for status in sorted(_ERRORS):
        responses[status] = {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
    operation: Schema = {"summary": summary, "responses": responses, "parameters": _input(parameters or [])}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _input(body)}}}
    if instruction is not None:
        operation["description"] = f"Signed with instruction `{instruction}`."
        operation["security"] = [{"ed25519": []}]
    return operation


SYMBOL = _query("symbol", STRING, required=True)
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})
SORT_DIRECTION = _query("sortDirection", {"type": "string", "enum": list(wire.SORT_DIRECTIONS)})
HISTORY = [
    _query("symbol", STRING),
    _query("orderId", STRING),
    LIMIT,
    _query("offset", {"type": "integer", "minimum": 0}),
    SORT_DIRECTION,
]
TIME_WINDOW = [
    _query("from", {"type": "integer", "minimum": 0}),
    _query("to", {"type": "integer", "minimum": 0}),
]
TRANSFERS = [*TIME_WINDOW, LIMIT, _query("offset", {"type": "integer", "minimum": 0}), SORT_DIRECTION]
KEY_SIGNATURE = {
    "name": "X-Key-Signature",
    "in": "header",
    "required": True,
    "schema": STRING,
    "description": "Proof of possession: the new key's own signature of the same payload as X-Signature.",
}
PUBLIC = "Backpack public"
PRIVATE = "Backpack private (signed)"
OWN = "Exchange's own (signed)"


def _paths() -> dict[str, Schema]:
    op = _operation
    return {
        "/api/v1/status": {
            "get": op("System status", obj({"status": STRING, "message": {"type": ["string", "null"]}}))
        },
        "/api/v1/ping": {"get": op("Ping", STRING, text=True)},
        "/api/v1/time": {"get": op("Server time (ms)", STRING, text=True)},
        "/api/v1/securities": {"get": op("Tokenized securities (none)", array({}))},
        "/api/v1/assets": {"get": op("Assets", array(ref("Asset")))},
        "/api/v1/markets": {"get": op("Markets", array(ref("Market")))},
        "/api/v1/market": {"get": op("One market", ref("Market"), parameters=[SYMBOL])},
        "/api/v1/depth": {
            "get": op(
                "Order book depth, both sides ascending by price",
                ref("Depth"),
                parameters=[SYMBOL, _query("limit", {"type": "integer", "enum": list(wire.DEPTH_LIMITS)})],
            )
        },
        "/api/v1/ticker": {
            "get": op(
                "24h ticker",
                ref("Ticker"),
                parameters=[SYMBOL, _query("interval", {"type": "string", "enum": ["1d"]})],
            )
        },
        "/api/v1/tickers": {"get": op("24h tickers", array(ref("Ticker")))},
        "/api/v1/klines": {
            "get": op(
                "Candles, ascending (startTime/endTime in seconds)",
                array(ref("Kline")),
                parameters=[
                    SYMBOL,
                    _query("interval", {"type": "string", "enum": list(marketdata.INTERVALS)}, required=True),
                    _query("startTime", {"type": "integer", "minimum": 0}, required=True),
                    _query("endTime", {"type": "integer", "minimum": 0}),
                ],
            )
        },
        "/api/v1/trades": {"get": op("Recent trades, newest first", array(ref("Trade")), parameters=[SYMBOL, LIMIT])},
        "/api/v1/trades/history": {
            "get": op(
                "Historical trades, newest first",
                array(ref("Trade")),
                parameters=[SYMBOL, LIMIT, _query("offset", {"type": "integer", "minimum": 0})],
            )
        },
        "/api/v1/capital": {"get": op("Balances", ref("Balances"), instruction="balanceQuery")},
        "/api/v1/order": {
            "get": op(
                "One open order",
                ref("Order"),
                parameters=[SYMBOL, _query("orderId", STRING), _query("clientId", INTEGER)],
                instruction="orderQuery",
            ),
            "post": op("Place an order", ref("Order"), body=ORDER_REQUEST, instruction="orderExecute"),
            "delete": op("Cancel an order", ref("Order"), body=ORDER_REF, instruction="orderCancel"),
        },
        "/api/v1/orders": {
            "get": op(
                "Open orders", array(ref("Order")), parameters=[_query("symbol", STRING)], instruction="orderQueryAll"
            ),
            "post": op(
                "Place up to 20 orders",
                array(ref("BatchResult")),
                body={**array(ORDER_REQUEST), "minItems": 1, "maxItems": 20},
                instruction="orderExecute",
            ),
            "delete": op(
                "Cancel all orders in a market",
                array(ref("Order")),
                body=obj({"symbol": STRING}),
                instruction="orderCancelAll",
            ),
        },
        "/wapi/v1/history/orders": {
            "get": op(
                "Order history", array(ref("OrderHistory")), parameters=HISTORY, instruction="orderHistoryQueryAll"
            )
        },
        "/wapi/v1/history/fills": {
            "get": op(
                "Fill history",
                array(ref("Fill")),
                parameters=[
                    *HISTORY,
                    *TIME_WINDOW,
                    _query("fillType", STRING),
                ],
                instruction="fillHistoryQueryAll",
            )
        },
        "/wapi/v1/capital/deposits": {
            "get": op("Deposit history", array(ref("Deposit")), parameters=TRANSFERS, instruction="depositQueryAll")
        },
        "/wapi/v1/capital/withdrawals": {
            "get": op(
                "Withdrawal history", array(ref("Withdrawal")), parameters=TRANSFERS, instruction="withdrawalQueryAll"
            )
        },
        "/exchange/v1/accounts": {
            "post": op(
                "Open an account with an ED25519 public key (signed by that key in demo mode, else by an admin)",
                ref("Account"),
                body=obj({"publicKey": STRING, "scopes": STRING, "label": STRING}, optional=("scopes", "label")),
                instruction="accountCreate",
            )
        },
        "/exchange/v1/keys": {
            "get": op(
                "The account's API keys, revoked ones too, oldest first",
                array(ref("ApiKey")),
                instruction="keyQueryAll",
            ),
            "post": op(
                "Add an API key to the signer's account, with scopes (comma-separated) among the signer's own",
                ref("ApiKey"),
                parameters=[KEY_SIGNATURE],
                body=obj({"publicKey": STRING, "scopes": STRING}, optional=("scopes",)),
                instruction="keyCreate",
            ),
            "delete": op(
                "Revoke a key of the signer's account (needs all of its scopes; idempotent)",
                ref("ApiKey"),
                body=obj({"publicKey": STRING}),
                instruction="keyRevoke",
            ),
        },
        "/exchange/v1/capital/deposit": {
            "post": op(
                "Deposit: the faucet in demo mode, the on-ramp for admins (idempotent by transferId)",
                ref("Transfer"),
                body=obj(
                    {"symbol": STRING, "quantity": NUMBER_INPUT, "transferId": STRING, "accountId": INTEGER},
                    optional=("transferId", "accountId"),
                ),
                instruction="deposit",
            )
        },
        "/exchange/v1/capital/withdraw": {
            "post": op(
                "Withdraw from the available balance (idempotent by transferId)",
                ref("Transfer"),
                body=obj({"symbol": STRING, "quantity": NUMBER_INPUT, "transferId": STRING}, optional=("transferId",)),
                instruction="withdraw",
            )
        },
        "/admin/v1/assets": {
            "post": op(
                "List an asset",
                ref("Asset"),
                body=obj({"symbol": STRING, "decimals": INTEGER}),
                instruction="assetCreate",
            )
        },
        "/admin/v1/markets": {
            "post": op(
                "List a spot market",
                ref("Market"),
                body=obj(
                    {
                        "symbol": STRING,
                        "baseSymbol": STRING,
                        "quoteSymbol": STRING,
                        "tickSize": NUMBER_INPUT,
                        "stepSize": NUMBER_INPUT,
                        "minQuantity": NUMBER_INPUT,
                        "makerFeeBps": INTEGER,
                        "takerFeeBps": INTEGER,
                    },
                    optional=("symbol", "makerFeeBps", "takerFeeBps"),
                ),
                instruction="marketCreate",
            )
        },
        "/admin/v1/markets/halt": {
            "post": op("Halt a market", ref("MarketState"), body=obj({"symbol": STRING}), instruction="marketHalt")
        },
        "/admin/v1/markets/resume": {
            "post": op("Resume a market", ref("MarketState"), body=obj({"symbol": STRING}), instruction="marketResume")
        },
        "/admin/v1/engine": {
            "get": op(
                "This instance's engine: its role, fencing epoch and state digest (equal to a fresh load's)",
                obj({"role": STRING, "epoch": {"type": ["integer", "null"]}, "digest": {"type": ["string", "null"]}}),
                instruction="engineQuery",
            )
        },
    }


def _tag(path: str) -> str:
    if path.startswith(("/exchange/", "/admin/")):
        return OWN
    return (
        PRIVATE
        if path.startswith("/wapi/") or path in ("/api/v1/capital", "/api/v1/order", "/api/v1/orders")
        else PUBLIC
    )


def document() -> Schema:
    """The OpenAPI document."""
    paths = _paths()
    for path, operations in paths.items():
        for operation in operations.values():
            operation["tags"] = [_tag(path)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Exchange API (Backpack Exchange v1 compatible)",
            "version": "1.0.0",
            "description": (
                "Backpack-compatible public and private REST API plus the exchange's own routes. Private "
                "requests are signed with ED25519 over `instruction=<instruction>&<sorted params>&timestamp=<ms>"
                "&window=<ms>` and carry X-API-Key, X-Signature, X-Timestamp and X-Window headers."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"ed25519": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


_DOCUMENT = document()

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exchange API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript>The API description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
});
</script>
</body></html>"""


async def openapi_json(request: Request) -> Response:
    """GET /openapi.json."""
    return JsonResponse(_DOCUMENT)


async def docs(request: Request) -> Response:
    """GET /docs: the API reference rendered from /openapi.json."""
    return HTMLResponse(DOCS_PAGE)


ROUTES: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
    Route("/docs", docs, methods=["GET"], include_in_schema=False),
    Mount("/docs/static", app=StaticFiles(packages=[("swagger_ui", "static")]), name="docs-static"),
]
