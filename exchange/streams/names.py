"""Stream names: parsing what clients subscribe to into the topics the fan-out publishes on.

A client names a stream the way Backpack does (`depth.SOL_USDC`, `kline.1m.SOL_USDC`,
`account.orderUpdate.SOL_USDC`) or with `@` as separator (`depth@SOL_USDC`); both
parse to one canonical, dotted name, which is also the `stream` of the frames the
client receives. The canonical name is the topic of a public stream; a private
stream's topic is `(name, account id)`, so one account never sees another's.

Answers follow what Backpack's websocket API does (docs.backpack.exchange): an unknown
stream type is 4006 "Invalid stream", a depth window other than 200ms/600ms/1000ms is
4008 "Invalid depth window", and an unknown symbol with a valid type is accepted
silently (it delivers once such a market exists, and never before). `account.rfqUpdate`
and `account.positionUpdate` are valid but silent here (a spot exchange without RFQ
or positions): ccxt's `watch_orders` subscribes to the first alongside the orders.
"""

from __future__ import annotations

from typing import NamedTuple

from exchange.engine.errors import ExchangeError
from exchange.marketdata import INTERVALS
from exchange.protocol.codes import StreamCode

DEPTH_WINDOWS = {"200ms": 0.2, "600ms": 0.6, "1000ms": 1.0}
PUBLIC_KINDS = frozenset(("depth", "trade", "ticker", "bookTicker", "kline"))
PRIVATE_KINDS = frozenset(("orderUpdate", "balanceUpdate", "rfqUpdate", "positionUpdate"))
PER_SYMBOL_PRIVATE = frozenset(("orderUpdate", "rfqUpdate", "positionUpdate"))

Topic = str | tuple[str, int]
"""A public stream's canonical name, or a private stream's (canonical name, account id)."""


class Stream(NamedTuple):
    """A valid stream name, canonical (dotted); `private` streams need a signed subscription."""

    name: str
    private: bool


class StreamError(ExchangeError):
    """A stream name Backpack refuses, with its error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_stream(text: str) -> Stream:
    """The canonical stream of a name in either style; StreamError(4006/4008) if refused."""
    parts = text.replace("@", ".").split(".")
    if parts[0] == "account" and len(parts) >= 2 and parts[1] in PRIVATE_KINDS:
        if len(parts) == 2 or (parts[1] in PER_SYMBOL_PRIVATE and len(parts) == 3 and parts[2]):
            return Stream(".".join(parts), private=True)
        raise StreamError(StreamCode.INVALID_STREAM, "Invalid stream")
    kind = parts[0]
    if kind not in PUBLIC_KINDS or len(parts) < 2 or not all(parts[1:]):
        raise StreamError(StreamCode.INVALID_STREAM, "Invalid stream")
    if kind == "kline" and (len(parts) < 3 or parts[1] not in INTERVALS):
        raise StreamError(StreamCode.INVALID_STREAM, "Invalid stream")
    if kind == "depth" and len(parts) >= 3 and parts[1].endswith("ms") and parts[1] not in DEPTH_WINDOWS:
        raise StreamError(StreamCode.INVALID_DEPTH_WINDOW, "Invalid depth window")
    return Stream(".".join(parts), private=False)


def public_topics(symbol: str) -> tuple[str, str, str, str]:
    """The realtime depth, trade, ticker and bookTicker topics of a market."""
    return f"depth.{symbol}", f"trade.{symbol}", f"ticker.{symbol}", f"bookTicker.{symbol}"


def depth_window_topic(window: str, symbol: str) -> str:
    """The aggregated depth topic of a market for one window (`200ms`, ...)."""
    return f"depth.{window}.{symbol}"


def kline_topic(interval: str, symbol: str) -> str:
    """The kline topic of a market for one interval."""
    return f"kline.{interval}.{symbol}"
