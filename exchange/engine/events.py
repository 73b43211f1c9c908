"""Events: what happened, in the order it happened, with everything a consumer needs.

The writer persists them, the bus fans them out, the API answers callers from them;
none of those needs to ask the engine anything afterwards. Amounts are in the engine's
units (ticks, steps, atoms). Within the events of one command:

- `Rejected` stands alone: a rejected command changed nothing.
- `BalanceChanged` comes once per touched (account, asset), after the other events of
  the command, with the absolute new values (so applying it twice is harmless).
- `DepthChanged` comes at most once per market per command, with the new total of
  each price level touched (0 for a level that is gone) and the market's new depth
  sequence, which grows by exactly one per event.
"""

from __future__ import annotations

from enum import StrEnum

from exchange.engine.commands import Command, Transfer
from exchange.engine.errors import RejectReason
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderSpec, OrderStatus, Side
from exchange.engine.records import record


class CloseReason(StrEnum):
    """Why an order left the book or never rested."""

    USER_CANCEL = "UserCancel"
    IMMEDIATE_OR_CANCEL = "ImmediateOrCancel"
    SELF_TRADE_PREVENTION = "SelfTradePrevention"


@record
class Rejected:
    command: Command
    reason: RejectReason
    message: str


@record
class AssetAdded:
    asset: Asset
    ts: int


@record
class MarketAdded:
    market: Market
    ts: int


@record
class MarketHaltChanged:
    symbol: str
    halted: bool
    ts: int


@record
class Deposited(Transfer):
    """A deposit, credited."""


@record
class Withdrawn(Transfer):
    """A withdrawal, debited from available; with a `chain`, pending until settled."""


@record
class WithdrawalSettled:
    """A pending withdrawal was sent (`confirmed`) or failed, its amount then back in available."""

    account_id: int
    asset: str
    amount: int
    transfer_id: str
    confirmed: bool
    transaction_hash: str | None
    ts: int


@record
class BalanceChanged:
    account_id: int
    asset: str
    available: int
    locked: int
    ts: int


@record
class OrderAccepted:
    order: OrderSpec
    ts: int


@record
class TradeExecuted:
    """One fill between a resting maker and an incoming taker, at the maker's price.

    `maker_fee` and `taker_fee` are atoms of what each side receives: the buyer's fee in
    base, the seller's in quote. `quote_quantity` is the notional in quote atoms.
    """

    id: int
    symbol: str
    price: int
    quantity: int
    quote_quantity: int
    taker_side: Side
    maker_order_id: int
    taker_order_id: int
    maker_account_id: int
    taker_account_id: int
    maker_fee: int
    taker_fee: int
    ts: int

    @property
    def is_buyer_maker(self) -> bool:
        """True when the resting order was the bid (the taker sold)."""
        return self.taker_side is Side.ASK


@record
class OrderFilled:
    """One side's view of a trade, with the order's totals after it."""

    order: OrderSpec
    trade_id: int
    price: int
    quantity: int
    executed: int
    executed_quote: int
    status: OrderStatus
    is_maker: bool
    fee: int
    fee_asset: str
    ts: int


@record
class OrderClosed:
    """An order done with while some of it was unfilled: its terms, what it executed, and why."""

    order: OrderSpec
    executed: int
    executed_quote: int
    reason: CloseReason
    ts: int


@record
class OrderCancelled(OrderClosed):
    """A resting order its owner cancelled."""


@record
class OrderExpired(OrderClosed):
    """The unfilled rest of an order that may not rest (IOC, FOK, market), or a maker STP took off."""


@record
class DepthChanged:
    """The new total quantity (steps) of each level touched, `(price, quantity)` pairs."""

    symbol: str
    sequence: int
    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]
    ts: int


Event = (
    Rejected
    | AssetAdded
    | MarketAdded
    | MarketHaltChanged
    | Deposited
    | Withdrawn
    | WithdrawalSettled
    | BalanceChanged
    | OrderAccepted
    | TradeExecuted
    | OrderFilled
    | OrderCancelled
    | OrderExpired
    | DepthChanged
)
