"""Commands: what callers ask the engine to do, in the engine's integer units.

Every command carries its timestamp `ts` (microseconds since the epoch), so the engine
never reads a clock and replaying the same commands gives the same events. Amounts are
already converted (prices in ticks, quantities in steps, balances in atoms) by
`exchange.engine.numbers`; a command that reaches the engine is well-formed, and what
is left to decide (funds, the book, policies) is decided by the engine, which answers
with events, a rejection among them.
"""

from __future__ import annotations

from typing import TypeVar

from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.engine.records import record


@record
class AddAsset:
    asset: Asset
    ts: int


@record
class AddMarket:
    market: Market
    ts: int


@record
class SetMarketHalted:
    """Halt (no new orders; cancels still work) or resume a market."""

    symbol: str
    halted: bool
    ts: int


@record
class Chain:
    """Where a transfer came from or goes to, outside the ledger: its network, the address
    (of a deposit: the account's deposit reference; of a withdrawal: the destination), and
    the on-chain transaction once known. The engine carries it to the history untouched."""

    blockchain: str
    address: str
    transaction_hash: str | None = None


@record
class Transfer:
    """Atoms of an asset moving into or out of an account, named by its `transfer_id`.

    The fields of a deposit and a withdrawal, as commands and as the events they become.
    """

    account_id: int
    asset: str
    amount: int
    transfer_id: str
    chain: Chain | None = None
    ts: int

    def recast(self, kind: type[TransferT]) -> TransferT:
        """The same transfer as another record: a `Deposit`'s `Deposited` event, or back."""
        return kind(
            account_id=self.account_id,
            asset=self.asset,
            amount=self.amount,
            transfer_id=self.transfer_id,
            chain=self.chain,
            ts=self.ts,
        )


TransferT = TypeVar("TransferT", bound=Transfer)


@record
class Deposit(Transfer):
    """Credit `amount` atoms; idempotent by `transfer_id` (a repeat is rejected, credits nothing)."""


@record
class Withdraw(Transfer):
    """Debit `amount` atoms from available; idempotent by `transfer_id`.

    Without a `chain` the withdrawal is settled at once (it leaves the ledger, nothing
    more); with one it is pending until the operator settles it (`SettleWithdrawal`).
    """


@record
class SettleWithdrawal:
    """The operator's word on a pending withdrawal: sent (`confirmed`, with its transaction
    if given), or failed, which returns the amount to the account's available balance."""

    transfer_id: str
    confirmed: bool
    transaction_hash: str | None = None
    ts: int


@record
class PlaceOrder:
    """Place a limit or market order; see `OrderSpec` for the units of each field."""

    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int | None = None
    quote_quantity: int | None = None
    price: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.REJECT_TAKER
    client_id: int | None = None
    ts: int


@record
class CancelOrder:
    """Cancel one of the account's open orders, by `order_id` or by `client_id`."""

    account_id: int
    symbol: str
    order_id: int | None = None
    client_id: int | None = None
    ts: int


@record
class CancelAllOrders:
    """Cancel every open order of the account in one market."""

    account_id: int
    symbol: str
    ts: int


Command = (
    AddAsset
    | AddMarket
    | SetMarketHalted
    | Deposit
    | Withdraw
    | SettleWithdrawal
    | PlaceOrder
    | CancelOrder
    | CancelAllOrders
)
