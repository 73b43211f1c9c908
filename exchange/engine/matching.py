"""Orders: the engine's matching, and the commands that place and cancel them.

Theory of operation. An incoming order is decided before anything moves: validation,
then a *plan* (a read-only walk of the opposite side in price-time priority that lists
the fills and self-trade actions the order would cause), then the checks that depend
on the plan (fill-or-kill, funds). Only an order that passes them all mutates state,
by applying the plan. So "a rejection changes nothing" holds by construction.

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

Open orders. An order rests in its book and in `open_orders`, `open_by_account` and
(with a client id) `client_ids` at once, and leaves all of them together when it is
filled, cancelled or expired; the reservation of its remaining size stays locked
exactly while it rests.
"""

from __future__ import annotations

from typing import NamedTuple

from exchange.engine.book import Book
from exchange.engine.commands import CancelAllOrders, CancelOrder, PlaceOrder
from exchange.engine.core import EngineCore, Rejection
from exchange.engine.errors import RejectReason
from exchange.engine.events import CloseReason, OrderAccepted, OrderCancelled, OrderExpired, OrderFilled, TradeExecuted
from exchange.engine.numbers import FEE_ACCOUNT, fee_atoms
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


class OrderCommands(EngineCore):
    """The handlers of `PlaceOrder`, `CancelOrder` and `CancelAllOrders` (`Engine.handle` dispatches to them)."""

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
