"""The messages of the API as JSON Schema: each reply's and request's fields, declared once.

`SCHEMAS` are the components of the OpenAPI document (what `replies`, `streams` and `ours`
produce: decimal strings, ms/µs integers, nullable extras); the request messages
(`ORDER_REQUEST`, the query parameters...) are as strict as the parsers in `requests`,
`decoding` and `ours`, so a request valid by its schema is never refused by a parser for its
form (schemathesis checks both ways). Enumerations come from the engine's enums and the
protocol's own, never from a copy of their values.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from exchange.engine.orders import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.persistence.tables import CONFIRMED, FAILED, PENDING
from exchange.protocol import replies, requests
from exchange.protocol.codes import Code
from exchange.protocol.ours import CHAIN_TEXT, Scope

Schema = dict[str, Any]

DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
NULLABLE_DECIMAL: Schema = {"type": ["string", "null"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
INTEGER: Schema = {"type": "integer"}
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}


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


ENUMS: dict[str, type[StrEnum]] = {
    "Side": Side,
    "OrderTypeName": OrderType,
    "TimeInForce": TimeInForce,
    "SelfTradePrevention": SelfTradePrevention,
    "OrderStatus": OrderStatus,
    "Scope": Scope,
    "Code": Code,
}
"""The component name of each enumeration a message holds."""

_ORDER_NULLS = dict.fromkeys(replies.NULL_ORDER_FIELDS, NULL)


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
CHAIN_STRING: Schema = {"type": "string", "pattern": CHAIN_TEXT.pattern.join("^$")}
"""An address or a transaction hash in a request (`ours.chain_text`)."""
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
    **{name: {"type": "string", "enum": [member.value for member in kind]} for name, kind in ENUMS.items()},
    "Error": obj({"code": ref("Code"), "message": STRING}),
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
            "toAddress": NULLABLE_STRING,
            "fromAddress": NULL,
            "confirmationBlockNumber": NULL,
            "identifier": STRING,
            "source": STRING,
            "status": {"const": CONFIRMED},
            "transactionHash": NULLABLE_STRING,
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
            "blockchain": NULLABLE_STRING,
            "clientId": NULL,
            "identifier": STRING,
            "quantity": DECIMAL,
            "fee": DECIMAL,
            "symbol": STRING,
            "status": {"type": "string", "enum": [PENDING, CONFIRMED, FAILED]},
            "subaccountId": NULL,
            "toAddress": NULLABLE_STRING,
            "transactionHash": NULLABLE_STRING,
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
            "scopes": array(ref("Scope")),
            "createdAt": {"type": "integer", "description": "milliseconds"},
            "revoked": BOOLEAN,
        }
    ),
    "MarketState": obj({"symbol": STRING, "orderBookState": {"type": "string", "enum": ["Open", "CancelOnly"]}}),
}

_ERRORS = {"400", "401", "403", "404", "413", "415", "429", "503"}


def query(name: str, schema: Schema, *, required: bool = False) -> Schema:
    """A query parameter."""
    return {"name": name, "in": "query", "required": required, "schema": schema}


SYMBOL = query("symbol", STRING, required=True)
LIMIT = query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})
SORT_DIRECTION = query("sortDirection", {"type": "string", "enum": list(requests.SORT_DIRECTIONS)})
SYMBOL_BODY = obj({"symbol": STRING})
ACCOUNT_REQUEST = obj({"publicKey": STRING, "scopes": STRING, "label": STRING}, optional=("scopes", "label"))
KEY_REQUEST = obj({"publicKey": STRING, "scopes": STRING}, optional=("scopes",))
WITHDRAW_REQUEST = obj({"symbol": STRING, "quantity": NUMBER_INPUT, "transferId": STRING}, optional=("transferId",))
DEPOSIT_REQUEST = obj(
    {
        "symbol": STRING,
        "quantity": NUMBER_INPUT,
        "transferId": STRING,
        "accountId": INTEGER,
        "address": CHAIN_STRING,
        "transactionHash": CHAIN_STRING,
    },
    optional=("transferId", "accountId", "address", "transactionHash"),
)
OFFSET = query("offset", {"type": "integer", "minimum": 0})
TICKER_INTERVAL = query("interval", {"type": "string", "enum": ["1d"]})
MARKET_REQUEST = obj(
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
)
HISTORY = (
    query("symbol", STRING),
    query("orderId", STRING),
    LIMIT,
    OFFSET,
    SORT_DIRECTION,
)
TIME_WINDOW = (
    query("from", {"type": "integer", "minimum": 0}),
    query("to", {"type": "integer", "minimum": 0}),
)
TRANSFERS = (*TIME_WINDOW, LIMIT, OFFSET, SORT_DIRECTION)
KEY_SIGNATURE = {
    "name": "X-Key-Signature",
    "in": "header",
    "required": True,
    "schema": STRING,
    "description": "Proof of possession: the new key's own signature of the same payload as X-Signature.",
}
