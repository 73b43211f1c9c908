"""Orders: the vocabulary of sides, types and policies, an order's fixed terms and its state.

An order is split in two. `OrderSpec` is what the owner asked for and never changes;
events share it by reference, so reporting a fill never copies the order. `Order` is
the engine's mutable record of progress. For every order at every moment:

    executed + remaining (+ what was cancelled or expired, once it is closed) == quantity

and a resting order reserves exactly `reservation(order)` atoms of what it would spend.
Enum values are Backpack's wire values, so the wire module passes them through.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from exchange.engine.numbers import Market


class Side(StrEnum):
    BID = "Bid"
    ASK = "Ask"


class OrderType(StrEnum):
    LIMIT = "Limit"
    MARKET = "Market"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class SelfTradePrevention(StrEnum):
    REJECT_TAKER = "RejectTaker"
    REJECT_MAKER = "RejectMaker"
    REJECT_BOTH = "RejectBoth"
    ALLOW = "Allow"


class OrderStatus(StrEnum):
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"


class OrderSpec(NamedTuple):
    """The terms of an accepted order, fixed for its life.

    A NamedTuple rather than a frozen dataclass because one is built for every order
    on the matching hot path, and a tuple is built in C (several times faster).

    `price` is in ticks (None for a market order); `quantity` in steps; `quote_quantity`
    in quote atoms, for a market order sized by what it spends (buy) or receives (sell).
    Exactly one of `quantity` and `quote_quantity` is set.
    """

    id: int
    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    price: int | None
    quantity: int | None
    quote_quantity: int | None
    time_in_force: TimeInForce
    post_only: bool
    self_trade_prevention: SelfTradePrevention
    client_id: int | None
    created_at: int


class Order:
    """The engine's live record of an order: how much is done and how much is left.

    `remaining` is in steps; for a market order sized by quote it is unbounded until
    the order closes. `executed_quote` is in quote atoms.
    """

    __slots__ = ("spec", "remaining", "executed", "executed_quote", "status")

    def __init__(self, spec: OrderSpec, remaining: int, executed: int = 0, executed_quote: int = 0) -> None:
        self.spec = spec
        self.remaining = remaining
        self.executed = executed
        self.executed_quote = executed_quote
        self.status = OrderStatus.PARTIALLY_FILLED if executed else OrderStatus.NEW


def reservation(market: Market, side: Side, price: int, steps: int) -> int:
    """Atoms a resting order of `steps` at `price` locks: quote for a bid, base for an ask."""
    if side is Side.BID:
        return market.notional(price, steps)
    return steps * market.base_atoms_per_step
