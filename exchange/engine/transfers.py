"""Deposits, withdrawals and their settlement: the engine's transfer commands.

Transfer ids. A deposit or withdrawal names a transfer id and is applied at most once.
The engine remembers the most recent `RECENT_TRANSFERS` ids, so its memory grows with
open state, never with history; a repeat of an older id passes the engine's check, and
the database's primary key on `transfers.transfer_id` refuses it at commit, which the
engine actor turns into the same DUPLICATE_TRANSFER rejection for that caller alone.

Pending withdrawals. A withdrawal with a destination (`Withdraw.chain`) leaves the
available balance at once and waits in `pending_withdrawals` for the operator's
`SettleWithdrawal`: confirmed, it is gone for good; failed, its exact amount returns to
the account's available balance. Either way it leaves the pending set, so it is settled
once. Pending withdrawals are open state: the snapshot holds them and recovery reloads
them from the transfers still marked pending. So "the sum of all balances equals net
deposits" counts a pending or confirmed withdrawal as gone and a failed one as never made.

A transfer moves only available atoms, never locked ones, so it cannot disturb what
open orders reserve.
"""

from __future__ import annotations

from exchange.engine.commands import Deposit, SettleWithdrawal, Withdraw
from exchange.engine.core import EngineCore, Rejection
from exchange.engine.errors import RejectReason
from exchange.engine.events import Deposited, WithdrawalSettled, Withdrawn

RECENT_TRANSFERS = 10_000
"""How many of the latest transfer ids the engine checks itself (the database checks them all)."""


class TransferCommands(EngineCore):
    """The handlers of `Deposit`, `Withdraw` and `SettleWithdrawal` (`Engine.handle` dispatches to them)."""

    def _deposit(self, command: Deposit) -> None:
        self._check_transfer(command.asset, command.amount, command.transfer_id)
        self._remember_transfer(command.transfer_id)
        self._balance(command.account_id, command.asset).available += command.amount
        self._events.append(command.recast(Deposited))

    def _withdraw(self, command: Withdraw) -> None:
        self._check_transfer(command.asset, command.amount, command.transfer_id)
        balance = self.balances.get((command.account_id, command.asset))
        if balance is None or balance.available < command.amount:
            raise Rejection(RejectReason.INSUFFICIENT_FUNDS, "withdrawal exceeds the available balance")
        self._remember_transfer(command.transfer_id)
        self._balance(command.account_id, command.asset).available -= command.amount
        withdrawn = command.recast(Withdrawn)
        if command.chain is not None:
            self.pending_withdrawals[command.transfer_id] = withdrawn
        self._events.append(withdrawn)

    def _settle_withdrawal(self, command: SettleWithdrawal) -> None:
        pending = self.pending_withdrawals.pop(command.transfer_id, None)
        if pending is None:
            raise Rejection(RejectReason.WITHDRAWAL_NOT_PENDING, f"withdrawal {command.transfer_id} is not pending")
        if not command.confirmed:
            self._balance(pending.account_id, pending.asset).available += pending.amount
        self._events.append(
            WithdrawalSettled(
                account_id=pending.account_id,
                asset=pending.asset,
                amount=pending.amount,
                transfer_id=pending.transfer_id,
                confirmed=command.confirmed,
                transaction_hash=command.transaction_hash,
                ts=command.ts,
            )
        )

    def _check_transfer(self, asset: str, amount: int, transfer_id: str) -> None:
        if asset not in self.assets:
            raise Rejection(RejectReason.UNKNOWN_ASSET, f"unknown asset {asset}")
        if amount <= 0:
            raise Rejection(RejectReason.INVALID_AMOUNT, "amount must be positive")
        if transfer_id in self.transfer_ids:
            raise Rejection(RejectReason.DUPLICATE_TRANSFER, f"transfer {transfer_id} was already applied")

    def _remember_transfer(self, transfer_id: str) -> None:
        transfer_ids = self.transfer_ids
        transfer_ids[transfer_id] = None
        if len(transfer_ids) > RECENT_TRANSFERS:
            del transfer_ids[next(iter(transfer_ids))]
