"""The one table from failures to HTTP: exception types and engine rejections to status + code.

Every error reply has Backpack's shape `{"code": ..., "message": ...}` with a code from
Backpack's `ApiErrorCode` (plus SERVICE_UNAVAILABLE for a refusing engine or an
unreachable database, and REPLAYED_REQUEST, `exchange.api.auth`), so ccxt
maps it to the right exception class (INSUFFICIENT_FUNDS -> InsufficientFunds,
INVALID_MARKET -> BadSymbol, INVALID_SIGNATURE/UNAUTHORIZED -> AuthenticationError...).
A success body never has a `code` key.

Every exception the project defines derives from `exchange.engine.errors.ExchangeError`,
and the ones a request can meet are mapped here, once: `ApiError` carries its own status
and `Code`, the engine's `InvalidInput` and a business rejection (a `Rejected` event,
`RejectedError`) carry a `RejectReason` and go through `REJECTIONS`; a refusing engine, an
unreachable database or an unreachable shared store (`SharedStateUnavailableError`,
`exchange.api.shared`) is a 503 with Retry-After. Bad input never becomes a 500: the only path to a 500
SERVER_ERROR is a bug.
"""

from __future__ import annotations

import logging
import math

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from exchange.engine.actor import EngineUnavailableError
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.engine.events import Rejected
from exchange.engine.numbers import InvalidInput
from exchange.persistence.database import DatabaseUnavailableError
from exchange.protocol.codes import ApiError, Code

log = logging.getLogger(__name__)


class RejectedError(ExchangeError):
    """The engine rejected a command; carries the `Rejected` event."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(rejected.message)
        self.rejected = rejected


REJECTIONS: dict[RejectReason, tuple[int, str]] = {
    RejectReason.INSUFFICIENT_FUNDS: (400, Code.INSUFFICIENT_FUNDS),
    RejectReason.UNKNOWN_MARKET: (400, Code.INVALID_MARKET),
    RejectReason.UNKNOWN_ASSET: (400, Code.INVALID_ASSET),
    RejectReason.ORDER_NOT_FOUND: (404, Code.RESOURCE_NOT_FOUND),
    RejectReason.POST_ONLY_WOULD_TAKE: (400, Code.INVALID_ORDER),
    RejectReason.FOK_NOT_FILLABLE: (400, Code.INVALID_ORDER),
    RejectReason.DUPLICATE_CLIENT_ID: (400, Code.INVALID_ORDER),
    RejectReason.QUANTITY_BELOW_MINIMUM: (400, Code.INVALID_ORDER),
    RejectReason.MARKET_HALTED: (400, Code.INVALID_ORDER),
    RejectReason.INVALID_ORDER: (400, Code.INVALID_ORDER),
    RejectReason.INVALID_PRICE: (400, Code.INVALID_PRICE),
    RejectReason.PRICE_OUTSIDE_BAND: (400, Code.INVALID_PRICE),
    RejectReason.INVALID_AMOUNT: (400, Code.INVALID_QUANTITY),
    RejectReason.INVALID_LISTING: (400, Code.INVALID_CLIENT_REQUEST),
    RejectReason.DUPLICATE_ASSET: (400, Code.INVALID_ASSET),
    RejectReason.DUPLICATE_MARKET: (400, Code.INVALID_MARKET),
    RejectReason.DUPLICATE_TRANSFER: (400, Code.INVALID_CLIENT_REQUEST),
    RejectReason.WITHDRAWAL_NOT_PENDING: (400, Code.INVALID_CLIENT_REQUEST),
    RejectReason.UNSTORABLE: (400, Code.INVALID_CLIENT_REQUEST),
}


class SharedStateUnavailableError(ExchangeError):
    """The store of the state gateways share (Redis: rate limits, replays, revocations) did not answer."""


_HTTP_CODES = {404: Code.RESOURCE_NOT_FOUND, 405: Code.INVALID_CLIENT_REQUEST, 413: Code.INVALID_CLIENT_REQUEST}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The JSON error reply."""
    body = orjson.dumps({"code": code, "message": message})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def retry_after(seconds: float) -> dict[str, str]:
    """The Retry-After header (whole seconds, at least 1)."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _rejected(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RejectedError)
    status, code = REJECTIONS[exc.rejected.reason]
    return error_response(status, code, exc.rejected.message)


async def _invalid_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInput)
    status, code = REJECTIONS[exc.reason]
    return error_response(status, code, exc.message)


def unavailable_response(exc: Exception) -> Response:
    """503 SERVICE_UNAVAILABLE with the failure's one-line message and Retry-After: 1."""
    return error_response(503, Code.SERVICE_UNAVAILABLE, str(exc) or "service unavailable", retry_after(1))


async def _unavailable(request: Request, exc: Exception) -> Response:
    return unavailable_response(exc)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, Code.INVALID_CLIENT_REQUEST)
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _disconnected(request: Request, exc: Exception) -> Response:
    """The client went away (or was timed out, `exchange.api.deadline`) before its body was in: nobody to answer."""
    return error_response(400, Code.INVALID_CLIENT_REQUEST, "the connection closed before the whole body was received")


async def _bug(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, Code.SERVER_ERROR, "internal error")


def exception_handlers() -> dict[int | type[Exception], ExceptionHandler]:
    """Starlette's `exception_handlers`: the whole mapping above."""
    return {
        ApiError: _api_error,
        RejectedError: _rejected,
        InvalidInput: _invalid_input,
        EngineUnavailableError: _unavailable,
        DatabaseUnavailableError: _unavailable,
        SharedStateUnavailableError: _unavailable,
        HTTPException: _http,
        ClientDisconnect: _disconnected,
        Exception: _bug,
    }
