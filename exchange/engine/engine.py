"""The matching engine: pure, synchronous, deterministic. Commands in, events out.

Theory of operation. `Engine.handle(command)` either rejects the command (one
`Rejected` event, nothing changed) or applies it completely. An incoming order is
decided before anything moves: validation, then a *plan* (a read-only walk of the
opposite side in price-time priority that lists the fills and self-trade actions the
order would cause), then the checks that depend on the plan (fill-or-kill, funds).
Only a command that passes them all mutates state, by applying the plan. So
"a rejection changes nothing" holds by construction.

Funds. An accepted order first locks what it may spend: a limit bid its notional at
its limit price, a limit ask its quantity, a market order exactly what its plan
spends. Each fill moves atoms out of the payer's locked balance at the maker's price
and releases any price improvement; when an order stops without resting, the rest
of its reservation is released. A market order must be fully funded at the size it
asks for (a buy sized in base costs what its plan costs); otherwise it is rejected
with INSUFFICIENT_FUNDS, so no balance can ever go negative. Fees are taken from what
each side receives (`numbers.fee_atoms`) and credited to `FEE_ACCOUNT`, so per asset
the sum of all balances equals net deposits, to the atom.

Price bands. A limit order of a market with a band (`Market.band`) must be priced
within the band around the market's last trade price as it stands when the order
arrives (its own fills do not move its band); a market with no trade yet has no band,
and market orders carry no price to check. The last trade price is part of the state
(recovered from the newest committed trade), so a replay decides the same way.

Self-trade prevention follows the taker's policy: RejectTaker expires the taker's
rest when it meets its own order; RejectMaker expires the owner's resting order and
goes on; RejectBoth does both; Allow trades.

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

Order ids and trade ids come from counters that are part of the state snapshot, so
a rebuilt engine continues the same sequence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

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
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.engine.events import (
    AssetAdded,
    BalanceChanged,
    CloseReason,
    Deposited,
    Event,
    MarketAdded,
    MarketHaltChanged,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    Rejected,
    TradeExecuted,
    WithdrawalSettled,
    Withdrawn,
)
from exchange.engine.numbers import FEE_ACCOUNT, Asset, fee_atoms
from exchange.engine.orders import (
    Order,
    OrderSpec,
    OrderStatus,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
    reservation,
)
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

RECENT_TRANSFERS = 10_000
"""How many of the latest transfer ids the engine checks itself (the database checks them all)."""


class Balance:
    """One account's holding of one asset, in atoms."""

    __slots__ = ("account_id", "asset", "available", "locked")

    def __init__(self, account_id: int, asset: str, available: int = 0, locked: int = 0) -> None:
        self.account_id = account_id
        self.asset = asset
        self.available = available
        self.locked = locked


class Plan(NamedTuple):
    """What an incoming order would do: fills `(maker, steps)`, and `(maker, 0)` for a
    maker that self-trade prevention expires; the steps it fills and the atoms it spends
    in total. `complete` is True when the order's own size ran out (rather than the
    book, its limit price, or self-trade prevention)."""

    fills: list[tuple[Order, int]]
    steps: int
    spend: int
    complete: bool
    stopped_by_stp: bool


NOTHING_TO_TAKE = Plan(fills=[], steps=0, spend=0, complete=False, stopped_by_stp=False)


class Rejection(ExchangeError):
    """Internal control flow: a command fails a business check before it changes anything."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        self.reason = reason
        self.message = message


class Engine:
    """Order books and balances for many markets; see the module docstring."""

    def __init__(self) -> None:
        self.assets: dict[str, Asset] = {}
        self.books: dict[str, Book] = {}
        self.balances: dict[tuple[int, str], Balance] = {}
        self.balances_by_account: dict[int, list[Balance]] = {}
        self.open_orders: dict[int, Order] = {}
        self.open_by_account: dict[int, dict[int, Order]] = {}
        self.client_ids: dict[tuple[int, int], Order] = {}
        self.transfer_ids: dict[str, None] = {}
        """The most recent `RECENT_TRANSFERS` transfer ids applied, oldest first (see the module docstring)."""
        self.pending_withdrawals: dict[str, Withdrawn] = {}
        """Withdrawals waiting for the operator, by transfer id (see the module docstring)."""
        self.next_order_id = 1
        self.next_trade_id = 1
        self._events: list[Event] = []
        self._touched: dict[int, Balance] = {}
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

    # -- assets, markets, transfers ------------------------------------------------

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

    # -- orders --------------------------------------------------------------------

    def _place_order(self, command: PlaceOrder) -> None:
        book = self._book(command.symbol)
        if book.halted:
            raise Rejection(RejectReason.MARKET_HALTED, f"market {command.symbol} is halted")
        self._validate_order(command, book)
        plan = self._plan(command, book)
        if command.time_in_force is TimeInForce.FOK and not plan.complete:
            raise Rejection(RejectReason.FOK_NOT_FILLABLE, "fill-or-kill order cannot be filled in full")
        market = book.market
        paying_asset = _paying_asset(book, command.side)
        required, lock = _funds_needed(command, book, plan)
        paying = self.balances.get((command.account_id, paying_asset))
        if paying is None or paying.available < required:
            raise Rejection(RejectReason.INSUFFICIENT_FUNDS, "insufficient funds")

        spec = OrderSpec(
            id=self.next_order_id,
            account_id=command.account_id,
            symbol=command.symbol,
            side=command.side,
            order_type=command.order_type,
            price=command.price,
            quantity=command.quantity,
            quote_quantity=command.quote_quantity,
            time_in_force=command.time_in_force,
            post_only=command.post_only,
            self_trade_prevention=command.self_trade_prevention,
            client_id=command.client_id,
            created_at=command.ts,
        )
        self.next_order_id += 1
        self._touched[id(paying)] = paying
        paying.available -= lock
        paying.locked += lock
        self._events.append(OrderAccepted(order=spec, ts=command.ts))
        taker = Order(spec, command.quantity if command.quantity is not None else plan.steps)

        for maker, steps in plan.fills:
            if steps:
                self._trade(book, taker, maker, steps, plan.complete, command.ts)
            else:
                self._close(book, maker, CloseReason.SELF_TRADE_PREVENTION, command.ts, cancelled=False)

        is_limit = command.price is not None
        rests = is_limit and command.time_in_force is TimeInForce.GTC and not plan.stopped_by_stp
        if taker.remaining and rests:
            self._rest(book, taker)
        elif taker.status is not OrderStatus.FILLED:
            unspent = reservation(market, command.side, command.price, taker.remaining) if command.price else 0
            paying.locked -= unspent
            paying.available += unspent
            reason = CloseReason.SELF_TRADE_PREVENTION if plan.stopped_by_stp else CloseReason.IMMEDIATE_OR_CANCEL
            self._expire(taker, reason, command.ts)

    def _validate_order(self, command: PlaceOrder, book: Book) -> None:
        bad = RejectReason.INVALID_ORDER
        if command.order_type is OrderType.LIMIT:
            if command.price is None or command.price <= 0 or command.quantity is None:
                raise Rejection(bad, "a limit order needs a positive price and a quantity")
            if command.quote_quantity is not None:
                raise Rejection(bad, "a limit order is sized by quantity, not quoteQuantity")
        else:
            if command.price is not None or command.post_only:
                raise Rejection(bad, "a market order takes no price and cannot be post-only")
            if (command.quantity is None) == (command.quote_quantity is None):
                raise Rejection(bad, "a market order needs exactly one of quantity and quoteQuantity")
            if command.quote_quantity is not None and command.quote_quantity <= 0:
                raise Rejection(bad, "quoteQuantity must be positive")
        if command.quantity is not None:
            if command.quantity <= 0:
                raise Rejection(bad, "quantity must be positive")
            if command.quantity < book.market.min_steps:
                raise Rejection(RejectReason.QUANTITY_BELOW_MINIMUM, "quantity is below the market minimum")
        if command.price is not None and book.last_price is not None:
            band = book.market.band(book.last_price)
            if band is not None and not band[0] <= command.price <= band[1]:
                market = book.market
                raise Rejection(
                    RejectReason.PRICE_OUTSIDE_BAND,
                    f"price {market.price(command.price)} is outside the price band "
                    f"{market.price(band[0])}..{market.price(band[1])} ({market.band_min}x..{market.band_max}x "
                    f"the last trade price {market.price(book.last_price)})",
                )
        if command.post_only and command.time_in_force is not TimeInForce.GTC:
            raise Rejection(bad, "a post-only order must be good-till-cancelled")
        if command.client_id is not None and (command.account_id, command.client_id) in self.client_ids:
            raise Rejection(RejectReason.DUPLICATE_CLIENT_ID, "an open order already has this clientId")
        if command.post_only and book.crosses(command.side, command.price):
            raise Rejection(RejectReason.POST_ONLY_WOULD_TAKE, "post-only order would immediately match")

    def _plan(self, command: PlaceOrder, book: Book) -> Plan:
        """Walk the opposite side read-only and list what `command` would do."""
        if not book.crosses(command.side, command.price):
            return NOTHING_TO_TAKE
        market = book.market
        fills: list[tuple[Order, int]] = []
        total = spend = 0
        per_step = market.base_atoms_per_step
        stp = command.self_trade_prevention
        owner = command.account_id
        left = command.quantity
        budget = command.quote_quantity
        buying = command.side is Side.BID
        for price, level in book.makers_for(command.side, command.price):
            step_value = market.notional(price, 1)
            for maker in level.orders.values():
                if maker.spec.account_id == owner and stp is not SelfTradePrevention.ALLOW:
                    if stp is not SelfTradePrevention.REJECT_TAKER:
                        fills.append((maker, 0))
                    if stp is not SelfTradePrevention.REJECT_MAKER:
                        return Plan(fills, total, spend, complete=False, stopped_by_stp=True)
                    continue
                if left is not None:
                    steps = min(maker.remaining, left)
                    left -= steps
                else:
                    assert budget is not None
                    steps = min(maker.remaining, budget // step_value)
                    budget -= steps * step_value
                if steps:
                    fills.append((maker, steps))
                    total += steps
                    spend += steps * step_value if buying else steps * per_step
                if left == 0 or (budget is not None and budget < step_value):
                    # A budget that cannot pay one step here stops: a worse maker may not be hit first.
                    return Plan(fills, total, spend, complete=total > 0, stopped_by_stp=False)
        return Plan(fills, total, spend, complete=False, stopped_by_stp=False)

    def _trade(self, book: Book, taker: Order, maker: Order, steps: int, taker_complete: bool, ts: int) -> None:
        market = book.market
        price = maker.spec.price
        assert price is not None
        base = steps * market.base_atoms_per_step
        quote = market.notional(price, steps)
        book.last_price = price
        taker_side = taker.spec.side
        buyer, seller = (taker, maker) if taker_side is Side.BID else (maker, taker)
        buyer_bps, seller_bps = (
            (market.taker_fee_bps, market.maker_fee_bps)
            if taker_side is Side.BID
            else (market.maker_fee_bps, market.taker_fee_bps)
        )
        buyer_fee = fee_atoms(base, buyer_bps)
        seller_fee = fee_atoms(quote, seller_bps)
        base_asset, quote_asset = market.base.symbol, market.quote.symbol

        buyer_quote = self._balance(buyer.spec.account_id, quote_asset)
        locked_price = buyer.spec.price if buyer.spec.order_type is OrderType.LIMIT else price
        assert locked_price is not None
        buyer_quote.locked -= market.notional(locked_price, steps)
        buyer_quote.available += market.notional(locked_price - price, steps)
        self._balance(buyer.spec.account_id, base_asset).available += base - buyer_fee
        self._balance(seller.spec.account_id, base_asset).locked -= base
        self._balance(seller.spec.account_id, quote_asset).available += quote - seller_fee
        if buyer_fee:
            self._balance(FEE_ACCOUNT, base_asset).available += buyer_fee
        if seller_fee:
            self._balance(FEE_ACCOUNT, quote_asset).available += seller_fee

        for order in (maker, taker):
            order.remaining -= steps
            order.executed += steps
            order.executed_quote += quote
        book.filled(maker, steps)
        if maker.remaining == 0:
            self._forget(maker)

        trade_id = self.next_trade_id
        self.next_trade_id += 1
        taker_fee, maker_fee = (buyer_fee, seller_fee) if taker_side is Side.BID else (seller_fee, buyer_fee)
        self._events.append(
            TradeExecuted(
                id=trade_id,
                symbol=market.symbol,
                price=price,
                quantity=steps,
                quote_quantity=quote,
                taker_side=taker_side,
                maker_order_id=maker.spec.id,
                taker_order_id=taker.spec.id,
                maker_account_id=maker.spec.account_id,
                taker_account_id=taker.spec.account_id,
                maker_fee=maker_fee,
                taker_fee=taker_fee,
                ts=ts,
            )
        )
        for order, is_maker, fee in ((maker, True, maker_fee), (taker, False, taker_fee)):
            done = order.remaining == 0 and (is_maker or taker_complete)
            order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
            self._events.append(
                OrderFilled(
                    order=order.spec,
                    trade_id=trade_id,
                    price=price,
                    quantity=steps,
                    executed=order.executed,
                    executed_quote=order.executed_quote,
                    status=order.status,
                    is_maker=is_maker,
                    fee=fee,
                    fee_asset=base_asset if order is buyer else quote_asset,
                    ts=ts,
                )
            )

    def _rest(self, book: Book, order: Order) -> None:
        spec = order.spec
        book.add(order)
        self.open_orders[spec.id] = order
        self.open_by_account.setdefault(spec.account_id, {})[spec.id] = order
        if spec.client_id is not None:
            self.client_ids[spec.account_id, spec.client_id] = order

    def _forget(self, order: Order) -> None:
        spec = order.spec
        del self.open_orders[spec.id]
        del self.open_by_account[spec.account_id][spec.id]
        if spec.client_id is not None:
            del self.client_ids[spec.account_id, spec.client_id]

    def _close(self, book: Book, order: Order, reason: CloseReason, ts: int, *, cancelled: bool) -> None:
        """Take a resting order off the book, release its reservation, report it."""
        spec = order.spec
        assert spec.price is not None
        unspent = reservation(book.market, spec.side, spec.price, order.remaining)
        paying = self._balance(spec.account_id, _paying_asset(book, spec.side))
        paying.locked -= unspent
        paying.available += unspent
        book.remove(order)
        self._forget(order)
        if cancelled:
            order.status = OrderStatus.CANCELLED
            self._events.append(
                OrderCancelled(
                    order=spec, executed=order.executed, executed_quote=order.executed_quote, reason=reason, ts=ts
                )
            )
        else:
            self._expire(order, reason, ts)

    def _expire(self, order: Order, reason: CloseReason, ts: int) -> None:
        order.status = OrderStatus.EXPIRED
        self._events.append(
            OrderExpired(
                order=order.spec, executed=order.executed, executed_quote=order.executed_quote, reason=reason, ts=ts
            )
        )

    def _cancel_order(self, command: CancelOrder) -> None:
        book = self._book(command.symbol)
        if command.order_id is not None:
            order = self.open_orders.get(command.order_id)
        elif command.client_id is not None:
            order = self.client_ids.get((command.account_id, command.client_id))
        else:
            raise Rejection(RejectReason.INVALID_ORDER, "give an orderId or a clientId")
        if (
            order is None
            or order.spec.account_id != command.account_id
            or order.spec.symbol != command.symbol
            or (command.client_id is not None and order.spec.client_id != command.client_id)
        ):
            raise Rejection(RejectReason.ORDER_NOT_FOUND, "no such open order")
        self._close(book, order, CloseReason.USER_CANCEL, command.ts, cancelled=True)

    def _cancel_all_orders(self, command: CancelAllOrders) -> None:
        book = self._book(command.symbol)
        mine = self.open_by_account.get(command.account_id, {})
        for order in [o for o in mine.values() if o.spec.symbol == command.symbol]:
            self._close(book, order, CloseReason.USER_CANCEL, command.ts, cancelled=True)

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

    # -- state ---------------------------------------------------------------------

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


def _view(order: Order) -> OrderView:
    return OrderView(spec=order.spec, status=order.status, executed=order.executed, executed_quote=order.executed_quote)


def _paying_asset(book: Book, side: Side) -> str:
    """What an order on `side` spends: quote for a bid, base for an ask."""
    return book.market.quote.symbol if side is Side.BID else book.market.base.symbol


def _funds_needed(command: PlaceOrder, book: Book, plan: Plan) -> tuple[int, int]:
    """(available atoms the order needs, atoms it locks) of the asset it pays with.

    A limit order locks its full reservation. A market order locks what its plan
    spends but must be funded for the full size it asks for: its quoteQuantity for a
    buy sized in quote, its quantity for a sell sized in base.
    """
    market = book.market
    if command.price is not None:
        assert command.quantity is not None
        full = reservation(market, command.side, command.price, command.quantity)
        return full, full
    if command.side is Side.BID and command.quote_quantity is not None:
        asked = command.quote_quantity
    elif command.side is Side.ASK and command.quantity is not None:
        asked = command.quantity * market.base_atoms_per_step
    else:
        asked = plan.spend
    return max(asked, plan.spend), plan.spend
