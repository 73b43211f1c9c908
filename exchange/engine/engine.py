"""The matching engine: pure, synchronous, deterministic. Commands in, events out.

`Engine.handle(command)` either rejects the command (one `Rejected` event, nothing
changed) or applies it completely and reports what changed: the command's own events,
then the depth change of its market, then the final amounts of every balance it
touched (`BalanceChanged` carries absolute values, never deltas). Outside
`exchange/engine` (the benchmarks aside), its state is read only through named queries
(`answer`), which it answers with plain records.

The engine is one class put together from one module per theme, each stating its own
invariants:

- `exchange.engine.core`: the state, and the two primitives the handlers change it
  through (a rejection comes before any change; every balance changed is reported);
- `exchange.engine.matching`: orders: validation, the plan, fills, funds, price
  bands, self-trade prevention, resting and cancelling (the per-order hot path);
- `exchange.engine.transfers`: deposits, withdrawals and their settlement, each
  transfer id applied at most once;
- this module: the dispatch, the listing commands (assets, markets, halts) and the
  queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange.engine.book import Book
from exchange.engine.commands import (
    AddAsset,
    AddMarket,
    CancelAllOrders,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    SetMarketHalted,
    SettleWithdrawal,
    Withdraw,
)
from exchange.engine.core import Rejection
from exchange.engine.errors import RejectReason
from exchange.engine.events import (
    AssetAdded,
    BalanceChanged,
    Event,
    MarketAdded,
    MarketHaltChanged,
    Rejected,
)
from exchange.engine.matching import OrderCommands
from exchange.engine.orders import Order
from exchange.engine.queries import (
    Depth,
    GetBalances,
    GetBooks,
    GetDepth,
    GetDigest,
    GetListings,
    GetOpenOrders,
    GetOrder,
    Holding,
    Listings,
    MarketState,
    OrderView,
    Query,
)
from exchange.engine.transfers import TransferCommands


class Engine(OrderCommands, TransferCommands):
    """Order books and balances for many markets; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self._handlers: dict[type[Any], Callable[[Any], None]] = {
            AddAsset: self._add_asset,
            AddMarket: self._add_market,
            SetMarketHalted: self._set_market_halted,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            SettleWithdrawal: self._settle_withdrawal,
            PlaceOrder: self._place_order,
            CancelOrder: self._cancel_order,
            CancelAllOrders: self._cancel_all_orders,
        }

    # -- the one entry point -------------------------------------------------------

    def handle(self, command: Command) -> list[Event]:
        """Apply one command and return its events (a lone `Rejected` if it failed)."""
        events: list[Event] = []
        self._events = events
        try:
            self._handlers[type(command)](command)
        except Rejection as rejection:
            assert not events and not self._touched, "a rejection must come before any change"
            return [Rejected(command=command, reason=rejection.reason, message=rejection.message)]
        ts = command.ts
        book = self.books.get(getattr(command, "symbol", ""))
        change = book.depth_change(ts) if book is not None else None
        if change is not None:
            events.append(change)
        for balance in self._touched.values():
            events.append(
                BalanceChanged(
                    account_id=balance.account_id,
                    asset=balance.asset,
                    available=balance.available,
                    locked=balance.locked,
                    ts=ts,
                )
            )
        self._touched.clear()
        return events

    # -- assets and markets --------------------------------------------------------

    def _add_asset(self, command: AddAsset) -> None:
        if command.asset.symbol in self.assets:
            raise Rejection(RejectReason.DUPLICATE_ASSET, f"asset {command.asset.symbol} exists")
        self.assets[command.asset.symbol] = command.asset
        self._events.append(AssetAdded(asset=command.asset, ts=command.ts))

    def _add_market(self, command: AddMarket) -> None:
        market = command.market
        if market.symbol in self.books:
            raise Rejection(RejectReason.DUPLICATE_MARKET, f"market {market.symbol} exists")
        for asset in (market.base, market.quote):
            if self.assets.get(asset.symbol) != asset:
                raise Rejection(RejectReason.UNKNOWN_ASSET, f"asset {asset.symbol} is not listed as given")
        self.books[market.symbol] = Book(market)
        self._events.append(MarketAdded(market=market, ts=command.ts))

    def _set_market_halted(self, command: SetMarketHalted) -> None:
        self._book(command.symbol).halted = command.halted
        self._events.append(MarketHaltChanged(symbol=command.symbol, halted=command.halted, ts=command.ts))

    # -- queries -------------------------------------------------------------------

    def answer(self, query: Query) -> Any:
        """The answer to a named query (`exchange.engine.queries`): plain records, never live state."""
        match query:
            case GetDepth(symbol=symbol, limit=limit):
                return self._depth(symbol, limit)
            case GetListings():
                return self._listings()
            case GetBooks(limit=limit):
                return self._listings(), tuple(self._depth(symbol, limit) for symbol in self.books)
            case GetBalances(account_id=account_id):
                balances = self.balances_by_account.get(account_id, ())
                return tuple(Holding(asset=b.asset, available=b.available, locked=b.locked) for b in balances)
            case GetOpenOrders(account_id=account_id, symbol=symbol):
                return tuple(_view(order) for order in self.orders_of(account_id, symbol))
            case GetOrder(account_id=account_id, symbol=symbol, order_id=order_id, client_id=client_id):
                if order_id is not None:
                    order = self.open_orders.get(order_id)
                else:
                    order = self.client_ids.get((account_id, client_id)) if client_id is not None else None
                mine = order is not None and order.spec.account_id == account_id and order.spec.symbol == symbol
                return _view(order) if mine and order is not None else None
            case GetDigest():
                from exchange.engine.state import digest  # state.py builds on this module

                return digest(self)
        raise TypeError(f"not a query: {query!r}")

    def _depth(self, symbol: str, limit: int) -> Depth:
        sequence, bids, asks = self.depth(symbol, limit)
        return Depth(symbol=symbol, sequence=sequence, bids=tuple(bids), asks=tuple(asks))

    def _listings(self) -> Listings:
        markets = (
            MarketState(market=b.market, sequence=b.sequence, halted=b.halted, last_price=b.last_price)
            for b in self.books.values()
        )
        return Listings(
            assets=tuple(sorted(self.assets.values(), key=lambda a: a.symbol)),
            markets=tuple(sorted(markets, key=lambda m: m.market.symbol)),
        )

    def depth(self, symbol: str, limit: int) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        """(depth sequence, best `limit` bids, best `limit` asks) as (ticks, steps) pairs, best first."""
        book = self.books[symbol]
        bids, asks = book.depth(limit)
        return book.sequence, bids, asks

    def best_bid_ask(self, symbol: str) -> tuple[int | None, int | None]:
        """The best bid and ask prices of a market (None for an empty side)."""
        book = self.books[symbol]
        return book.best_bid(), book.best_ask()

    def orders_of(self, account_id: int, symbol: str | None = None) -> list[Order]:
        """An account's open orders, oldest first, optionally in one market."""
        mine = self.open_by_account.get(account_id, {}).values()
        return sorted((o for o in mine if symbol is None or o.spec.symbol == symbol), key=lambda o: o.spec.id)

    def balances_of(self, account_id: int) -> dict[str, tuple[int, int]]:
        """An account's (available, locked) atoms per asset it has ever held."""
        return {b.asset: (b.available, b.locked) for b in self.balances_by_account.get(account_id, ())}


def _view(order: Order) -> OrderView:
    return OrderView(spec=order.spec, status=order.status, executed=order.executed, executed_quote=order.executed_quote)
