"""Error codes, stated once: Backpack's `ApiErrorCode` values, the websocket error codes, and `ApiError`.

Every error reply is `{"code": <Code>, "message": ...}`. The codes are Backpack's, so ccxt
maps each to its exception class (INSUFFICIENT_FUNDS -> InsufficientFunds, INVALID_MARKET
-> BadSymbol, INVALID_SIGNATURE/UNAUTHORIZED -> AuthenticationError...); the project adds
SERVICE_UNAVAILABLE (a refusing engine or an unreachable database) and REPLAYED_REQUEST (a
signature seen before). `Code` is a `StrEnum`, so a member is its wire text.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from exchange.engine.errors import ExchangeError


class Code(StrEnum):
    """The code of an HTTP error reply."""

    INVALID_CLIENT_REQUEST = "INVALID_CLIENT_REQUEST"
    INVALID_MARKET = "INVALID_MARKET"
    INVALID_ASSET = "INVALID_ASSET"
    INVALID_ORDER = "INVALID_ORDER"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INVALID_RANGE = "INVALID_RANGE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    REPLAYED_REQUEST = "REPLAYED_REQUEST"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    SERVER_ERROR = "SERVER_ERROR"


class StreamCode(IntEnum):
    """The code of a websocket error frame, as Backpack numbers them."""

    PARSE_ERROR = 4002
    INVALID_SIGNATURE = 4003
    INVALID_STREAM = 4006
    INVALID_DEPTH_WINDOW = 4008


class ApiError(ExchangeError):
    """A refused request: its HTTP status, its `Code` and a message (and optional extra headers)."""

    def __init__(self, status: int, code: Code, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    """A 400 INVALID_CLIENT_REQUEST, the reply to a request malformed in a way no field code names."""
    return ApiError(400, Code.INVALID_CLIENT_REQUEST, message)
