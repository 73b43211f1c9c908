"""The engine's state, and the two primitives every command handler changes it through.

`EngineCore` holds everything `Engine.handle` reads and writes: assets, order books,
balances, open orders (by id, by account, by client id), the recent transfer ids, the
pending withdrawals and the id counters; `exchange.engine.state` copies exactly these
out and back. The command handlers are methods of its subclasses, one module per theme
(`matching.OrderCommands`, `transfers.TransferCommands`), and `engine.Engine` puts
them together behind `handle`.

Two rules make `handle`'s promise hold (a rejection changes nothing; an applied command
reports every balance it changed):

- A handler refuses a command by raising `Rejection` before its first change. `_book`
  is the lookup of a command's market that refuses an unknown symbol that way.
- Every balance a handler changes is marked in `_touched`: `_balance` marks what it
  hands out, and a handler that reads `balances` directly marks what it then changes.
  `handle` turns the marks into `BalanceChanged` events with the final amounts.

Order ids and trade ids come from counters that are part of the state snapshot, so
a rebuilt engine continues the same sequence.
"""

from __future__ import annotations

from exchange.engine.book import Book
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.engine.events import Event, Withdrawn
from exchange.engine.numbers import Asset
from exchange.engine.orders import Order


class Balance:
    """One account's holding of one asset, in atoms."""

    __slots__ = ("account_id", "asset", "available", "locked")

    def __init__(self, account_id: int, asset: str, available: int = 0, locked: int = 0) -> None:
        self.account_id = account_id
        self.asset = asset
        self.available = available
        self.locked = locked


class Rejection(ExchangeError):
    """Internal control flow: a command fails a business check before it changes anything."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        self.reason = reason
        self.message = message


class EngineCore:
    """The state that `Engine`'s command handlers share; see the module docstring."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.books: dict[str, Book] = {}
        self.balances: dict[tuple[int, str], Balance] = {}
        self.balances_by_account: dict[int, list[Balance]] = {}
        self.open_orders: dict[int, Order] = {}
        self.open_by_account: dict[int, dict[int, Order]] = {}
        self.client_ids: dict[tuple[int, int], Order] = {}
        self.transfer_ids: dict[str, None] = {}
        """The most recent `RECENT_TRANSFERS` transfer ids applied, oldest first (see `exchange.engine.transfers`)."""
        self.pending_withdrawals: dict[str, Withdrawn] = {}
        """Withdrawals waiting for the operator, by transfer id (see `exchange.engine.transfers`)."""
        self.next_order_id = 1
        self.next_trade_id = 1
        self._events: list[Event] = []
        self._touched: dict[int, Balance] = {}

    def _book(self, symbol: str) -> Book:
        book = self.books.get(symbol)
        if book is None:
            raise Rejection(RejectReason.UNKNOWN_MARKET, f"unknown market {symbol}")
        return book

    def _balance(self, account_id: int, asset: str) -> Balance:
        """The balance to change, created if new, and marked for a BalanceChanged event."""
        key = (account_id, asset)
        balance = self.balances.get(key)
        if balance is None:
            balance = self.balances[key] = Balance(account_id, asset)
            self.balances_by_account.setdefault(account_id, []).append(balance)
        self._touched[id(balance)] = balance
        return balance
