"""The root of the project's own exceptions.

Every exception the project defines derives from `ExchangeError`, so a caller can tell
the project's own failures from a library's or a bug's, and `exchange.api.errors` maps
each kind to an HTTP status and a wire code in one table (anything else is a 500
SERVER_ERROR, a bug). It lives in `engine/`, the innermost room, because every other
room may import from the engine and the engine imports from none.

`RejectReason` is the engine's one enum of error codes: why a command was rejected (a
`Rejected` event) or why an input is invalid (`exchange.engine.numbers.InvalidInput`).
The engine knows nothing of the wire; `exchange.api.errors.REJECTIONS` maps each reason to
an HTTP status and the protocol's `Code`, once. A reason's value is its name (it names the
reason in metrics and in the codec), so no code is spelled out twice.
"""

from __future__ import annotations

from enum import StrEnum, auto


class ExchangeError(Exception):
    """The base of every exception the exchange defines."""


class RejectReason(StrEnum):
    """Why the engine refused a command or an input; each value is the member's name."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name

    UNKNOWN_ASSET = auto()
    UNKNOWN_MARKET = auto()
    DUPLICATE_ASSET = auto()
    DUPLICATE_MARKET = auto()
    INVALID_LISTING = auto()
    """An asset or market definition the number rules refuse (`exchange.engine.numbers`)."""
    MARKET_HALTED = auto()
    INVALID_ORDER = auto()
    INVALID_PRICE = auto()
    """A price that is not a positive whole number of ticks."""
    PRICE_OUTSIDE_BAND = auto()
    """A limit price outside its market's price band around the last trade price (`Market.band`)."""
    INVALID_AMOUNT = auto()
    """A quantity or amount that is not a positive whole number of steps or atoms."""
    QUANTITY_BELOW_MINIMUM = auto()
    INSUFFICIENT_FUNDS = auto()
    POST_ONLY_WOULD_TAKE = auto()
    FOK_NOT_FILLABLE = auto()
    DUPLICATE_CLIENT_ID = auto()
    ORDER_NOT_FOUND = auto()
    DUPLICATE_TRANSFER = auto()
    WITHDRAWAL_NOT_PENDING = auto()
    UNSTORABLE = auto()
    """The database refused the command's effects (a value it cannot store); given by the actor, not the engine."""
