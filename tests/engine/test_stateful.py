"""Random command streams against the engine, with every invariant checked after every step.

Run 10,000 examples (about 100 steps each) with:

    ENGINE_EXAMPLES=10000 ENGINE_STEPS=100 /work/venv/bin/python -m pytest tests/engine/test_stateful.py -q

By default a moderate number of examples runs, so that the engine suite stays quick.

Four accounts trade in three markets that share assets (see `builders`), with prices
clustered a few ticks around each market's mid so that orders cross often. The
machine drives every command the engine knows: deposits and withdrawals (transfer ids
drawn from a small pool, so repeats happen), limit and market orders (by quantity and by
quoteQuantity) with every time in force, postOnly and every self-trade policy,
clientIds from a small pool (so duplicates happen), cancels by id and by clientId
(including other accounts' and unknown orders), cancel-all, and halting and resuming
markets.

The checks compare each step's events with a copy of the state taken before it, so
they do not trust the engine's own bookkeeping: which makers a taker may hit and in
which order follows from the pre-step book alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange.engine import state
from exchange.engine.commands import (
    CancelAllOrders,
    CancelOrder,
    Chain,
    Command,
    Deposit,
    PlaceOrder,
    SetMarketHalted,
    SettleWithdrawal,
    Withdraw,
)
from exchange.engine.engine import Engine
from exchange.engine.events import (
    BalanceChanged,
    CloseReason,
    Deposited,
    DepthChanged,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    Rejected,
    TradeExecuted,
    WithdrawalSettled,
    Withdrawn,
)
from exchange.engine.numbers import fee_atoms
from exchange.engine.orders import OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce
from tests.engine.builders import ASSETS, FUNDING, MARKETS, MIDS, assert_sound, limit, make_engine, market, of_type

EXAMPLES = int(os.environ.get("ENGINE_EXAMPLES", "100"))
STEPS = int(os.environ.get("ENGINE_STEPS", "50"))
ACCOUNTS = (1, 2, 3, 4)
SYMBOLS = tuple(m.symbol for m in MARKETS)
MARKET_OF = {m.symbol: m for m in MARKETS}

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from(Side)
tifs = st.sampled_from(TimeInForce)
stps = st.sampled_from(SelfTradePrevention)
client_ids = st.none() | st.integers(1, 4)
transfer_ids = st.sampled_from([f"t{i}" for i in range(12)])
offsets = st.integers(-6, 6)
quantities = st.integers(1, 15)


@dataclass(frozen=True, slots=True)
class Maker:
    """A resting order as the pre-step book showed it."""

    id: int
    account_id: int
    price: int
    remaining: int


@dataclass(slots=True)
class Tracked:
    """What the events said about one order so far."""

    quantity: int | None
    executed: int = 0
    executed_quote: int = 0
    closed: bool = False
    status: OrderStatus = OrderStatus.NEW


@dataclass(slots=True)
class Log:
    commands: list[Command] = field(default_factory=list)
    events: list[list[Event]] = field(default_factory=list)


def makers_in_priority(engine: Engine, symbol: str, side: Side, limit_price: int | None) -> list[Maker]:
    """The resting orders an incoming order on `side` limited at `limit_price` could hit, best first."""
    book = engine.books[symbol]
    levels = book.asks.items() if side is Side.BID else reversed(book.bids.items())
    out: list[Maker] = []
    for price, level in levels:
        if limit_price is not None and (price > limit_price if side is Side.BID else price < limit_price):
            break
        out.extend(Maker(o.spec.id, o.spec.account_id, price, o.remaining) for o in level.orders.values())
    return out


def level_totals(engine: Engine, symbol: str) -> dict[tuple[Side, int], int]:
    """Every level of a book as (side, price) -> total steps, summed from its orders."""
    book = engine.books[symbol]
    out = {}
    for side, levels in ((Side.BID, book.bids), (Side.ASK, book.asks)):
        for price, level in levels.items():
            out[side, price] = sum(o.remaining for o in level.orders.values())
    return out


class EngineMachine(RuleBasedStateMachine):
    """The engine under random commands; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = make_engine(ACCOUNTS)
        self.start = state.snapshot(self.engine)
        self.net = {a.symbol: FUNDING[a.symbol] * len(ACCOUNTS) for a in ASSETS}
        self.sequences = {s: self.engine.books[s].sequence for s in SYMBOLS}
        self.orders: dict[int, Tracked] = {}
        self.log = Log()
        self.middle: tuple[state.Snapshot, int] | None = None
        self.ts = 1

    # -- driving -------------------------------------------------------------------

    def apply(self, command: Command) -> list[Event]:
        """Handle one command and check its events against the state before it."""
        engine = self.engine
        digest_before = state.digest(engine)
        balances_before = {k: (b.available, b.locked) for k, b in engine.balances.items()}
        symbol = getattr(command, "symbol", None)
        levels_before = level_totals(engine, symbol) if symbol in engine.books else {}
        makers: list[Maker] = []
        if isinstance(command, PlaceOrder) and command.symbol in engine.books:
            makers = makers_in_priority(engine, command.symbol, command.side, command.price)
        self.ts += 1

        events = engine.handle(command)
        self.log.commands.append(command)
        self.log.events.append(events)

        if of_type(events, Rejected):
            assert len(events) == 1, events
            assert state.digest(engine) == digest_before
            return events
        self.check_balance_events(events, balances_before)
        if symbol in engine.books:
            assert symbol is not None
            self.check_depth(symbol, events, levels_before)
        for deposited in of_type(events, Deposited):
            self.net[deposited.asset] += deposited.amount
        for withdrawn in of_type(events, Withdrawn):
            self.net[withdrawn.asset] -= withdrawn.amount
        for settled in of_type(events, WithdrawalSettled):
            self.net[settled.asset] += 0 if settled.confirmed else settled.amount  # a failed one comes back
        self.track_orders(events)
        if isinstance(command, PlaceOrder):
            self.check_placement(command, events, makers)
        return events

    def check_balance_events(self, events: list[Event], before: dict[tuple[int, str], tuple[int, int]]) -> None:
        reported = {(e.account_id, e.asset): (e.available, e.locked) for e in of_type(events, BalanceChanged)}
        assert len(reported) == len(of_type(events, BalanceChanged)), "one BalanceChanged per (account, asset)"
        now = {k: (b.available, b.locked) for k, b in self.engine.balances.items()}
        for key, values in reported.items():
            assert now[key] == values, (key, now[key], values)
        for key, values in now.items():
            if before.get(key, (0, 0)) != values:
                assert key in reported, f"{key} changed without a BalanceChanged"
        tail = events[len(events) - len(reported) :]
        assert all(isinstance(e, BalanceChanged) for e in tail), "BalanceChanged events come last"

    def check_depth(self, symbol: str, events: list[Event], before: dict[tuple[Side, int], int]) -> None:
        changes = of_type(events, DepthChanged)
        assert len(changes) <= 1
        after = level_totals(self.engine, symbol)
        book = self.engine.books[symbol]
        for side, levels in ((Side.BID, book.bids), (Side.ASK, book.asks)):
            for price, level in levels.items():
                assert level.orders and level.total == after[side, price] > 0
        moved = {k for k in before.keys() | after.keys() if before.get(k, 0) != after.get(k, 0)}
        if not changes:
            assert not moved, moved
            assert book.sequence == self.sequences[symbol]
            return
        change = changes[0]
        assert change.symbol == symbol
        assert change.sequence == self.sequences[symbol] + 1 == book.sequence
        self.sequences[symbol] = change.sequence
        told = {(Side.BID, p): q for p, q in change.bids} | {(Side.ASK, p): q for p, q in change.asks}
        assert len(told) == len(change.bids) + len(change.asks)
        for key, quantity in told.items():
            assert after.get(key, 0) == quantity, (key, quantity)
        assert moved <= told.keys(), moved - told.keys()

    def track_orders(self, events: list[Event]) -> None:
        """Fold order events into `self.orders`, checking each order's story stays consistent."""
        for event in events:
            if isinstance(event, OrderAccepted):
                assert event.order.id not in self.orders
                self.orders[event.order.id] = Tracked(event.order.quantity)
                continue
            if not isinstance(event, OrderFilled | OrderCancelled | OrderExpired):
                continue
            tracked = self.orders[event.order.id]
            assert not tracked.closed, f"event after close: {event}"
            if isinstance(event, OrderFilled):
                tracked.executed += event.quantity
                tracked.executed_quote += event.quantity * MARKET_OF[event.order.symbol].notional(event.price, 1)
                assert (event.executed, event.executed_quote) == (tracked.executed, tracked.executed_quote)
                tracked.status = event.status
                tracked.closed = event.status is OrderStatus.FILLED
                if tracked.closed and tracked.quantity is not None:
                    assert tracked.executed == tracked.quantity
            else:
                assert (event.executed, event.executed_quote) == (tracked.executed, tracked.executed_quote)
                tracked.closed = True
                tracked.status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.EXPIRED
            if tracked.quantity is not None:
                assert tracked.executed <= tracked.quantity

    def check_placement(self, command: PlaceOrder, events: list[Event], makers: list[Maker]) -> None:
        """Priority, limits, fees, time in force, postOnly and self-trade prevention of one order."""
        taker = of_type(events, OrderAccepted)[0].order
        spec_market = MARKET_OF[command.symbol]
        trades = of_type(events, TradeExecuted)
        stp_expired = [
            e.order.id
            for e in events
            if isinstance(e, OrderExpired) and e.order.id != taker.id and e.reason is CloseReason.SELF_TRADE_PREVENTION
        ]
        touched = [
            e.maker_order_id if isinstance(e, TradeExecuted) else e.order.id
            for e in events
            if isinstance(e, TradeExecuted) or (isinstance(e, OrderExpired) and e.order.id in stp_expired)
        ]
        assert touched == [m.id for m in makers[: len(touched)]], (touched, makers)
        by_id = {m.id: m for m in makers}
        for trade in trades:
            maker = by_id[trade.maker_order_id]
            assert trade.taker_order_id == taker.id and trade.taker_side is command.side
            assert trade.price == maker.price
            assert trade.quantity <= maker.remaining
            assert trade.quote_quantity == spec_market.notional(trade.price, trade.quantity)
            if trade.maker_order_id != touched[-1]:
                assert trade.quantity == maker.remaining, "only the last maker may be left partly filled"
            if command.self_trade_prevention is not SelfTradePrevention.ALLOW:
                assert maker.account_id != taker.account_id, "self-trade under a Reject* policy"
            base = trade.quantity * spec_market.base_atoms_per_step
            buyer_fee = fee_atoms(
                base, spec_market.taker_fee_bps if command.side is Side.BID else spec_market.maker_fee_bps
            )
            seller_fee = fee_atoms(
                trade.quote_quantity,
                spec_market.maker_fee_bps if command.side is Side.BID else spec_market.taker_fee_bps,
            )
            fees = (buyer_fee, seller_fee) if command.side is Side.BID else (seller_fee, buyer_fee)
            assert (trade.taker_fee, trade.maker_fee) == fees
        for maker_id in stp_expired:
            assert by_id[maker_id].account_id == taker.account_id
            assert command.self_trade_prevention in (SelfTradePrevention.REJECT_MAKER, SelfTradePrevention.REJECT_BOTH)

        tracked = self.orders[taker.id]
        rests = taker.id in self.engine.open_orders
        if rests:
            assert command.order_type is OrderType.LIMIT and command.time_in_force is TimeInForce.GTC
        if command.post_only:
            assert not trades
        if command.time_in_force is TimeInForce.FOK:
            assert tracked.status is OrderStatus.FILLED
        if command.quote_quantity is not None and command.side is Side.BID:
            assert tracked.executed_quote <= command.quote_quantity, "a market buy overspent"
        if command.quote_quantity is not None and command.side is Side.ASK:
            assert tracked.executed_quote <= command.quote_quantity, "a market sell received more than asked"
        if not rests:
            assert tracked.closed
        self.check_stop(command, tracked, events, makers, touched, taker.id)

    def check_stop(
        self,
        command: PlaceOrder,
        tracked: Tracked,
        events: list[Event],
        makers: list[Maker],
        touched: list[int],
        taker_id: int,
    ) -> None:
        """An order that stopped short of its size stopped for a reason the pre-step book shows."""
        if tracked.status is OrderStatus.FILLED:
            return
        expiry = [e for e in of_type(events, OrderExpired) if e.order.id == taker_id]
        stp = command.self_trade_prevention
        if expiry and expiry[0].reason is CloseReason.SELF_TRADE_PREVENTION:
            if stp is SelfTradePrevention.REJECT_TAKER:
                assert makers[len(touched)].account_id == command.account_id
            else:
                assert (
                    stp is SelfTradePrevention.REJECT_BOTH and makers[len(touched) - 1].account_id == command.account_id
                )
            return
        rest = makers[len(touched) :]
        if command.quote_quantity is None:
            assert not rest, "stopped with makers left in reach"
            return
        by_id = {m.id: m for m in makers}
        trades = of_type(events, TradeExecuted)
        last = trades[-1] if trades else None
        partial = (
            last is not None and last.maker_order_id == touched[-1] and last.quantity < by_id[touched[-1]].remaining
        )
        blocking = by_id[touched[-1]] if partial else (rest[0] if rest else None)
        if blocking is not None:
            left = command.quote_quantity - tracked.executed_quote
            assert left < MARKET_OF[command.symbol].notional(blocking.price, 1), "a quote budget stopped early"

    # -- rules ---------------------------------------------------------------------

    @initialize(
        orders=st.lists(
            st.tuples(accounts, symbols, sides, st.integers(1, 6), quantities, stps), min_size=4, max_size=30
        )
    )
    def seed_books(self, orders: list[tuple[int, str, Side, int, int, SelfTradePrevention]]) -> None:
        """Rest some orders a few ticks either side of each mid, so that books start with depth."""
        for account, symbol, side, away, quantity, stp in orders:
            price = MIDS[symbol] - away if side is Side.BID else MIDS[symbol] + away
            self.apply(limit(account, side, price, quantity, symbol, stp=stp, ts=self.ts))

    @rule(
        account=accounts,
        asset=st.sampled_from([a.symbol for a in ASSETS]),
        size=st.integers(1, 100),
        tid=transfer_ids,
        withdraw=st.booleans(),
        to_chain=st.booleans(),
    )
    def transfer(self, account: int, asset: str, size: int, tid: str, withdraw: bool, to_chain: bool) -> None:
        if withdraw:
            available = self.engine.balances_of(account).get(asset, (0, 0))[0]
            amount = max(1, available * size // 90)
            chain = Chain(blockchain="Solana", address="dest") if to_chain else None
            command = Withdraw(account_id=account, asset=asset, amount=amount, transfer_id=tid, chain=chain, ts=self.ts)
            self.apply(command)
        else:
            amount = FUNDING[asset] * size // 100
            self.apply(Deposit(account_id=account, asset=asset, amount=amount, transfer_id=tid, ts=self.ts))

    @rule(tid=transfer_ids, confirmed=st.booleans())
    def settle_withdrawal(self, tid: str, confirmed: bool) -> None:
        """Settle a pending withdrawal (failed: its amount returns), or try one that is not pending."""
        self.apply(SettleWithdrawal(transfer_id=tid, confirmed=confirmed, ts=self.ts))

    @rule(account=accounts, symbol=symbols, side=sides, offset=offsets, quantity=quantities, stp=stps)
    def place_plain_limit(
        self, account: int, symbol: str, side: Side, offset: int, quantity: int, stp: SelfTradePrevention
    ) -> None:
        self.apply(limit(account, side, MIDS[symbol] + offset, quantity, symbol, stp=stp, ts=self.ts))

    @rule(
        account=accounts,
        symbol=symbols,
        side=sides,
        offset=offsets,
        quantity=quantities,
        tif=tifs,
        post_only=st.booleans(),
        stp=stps,
        client_id=client_ids,
    )
    def place_limit(
        self,
        account: int,
        symbol: str,
        side: Side,
        offset: int,
        quantity: int,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
        client_id: int | None,
    ) -> None:
        self.apply(
            limit(
                account,
                side,
                MIDS[symbol] + offset,
                quantity,
                symbol,
                tif=tif,
                post_only=post_only and tif is TimeInForce.GTC,
                stp=stp,
                client_id=client_id,
                ts=self.ts,
            )
        )

    @rule(
        account=accounts,
        symbol=symbols,
        side=sides,
        size=st.integers(1, 3) | st.integers(4, 30),
        by_quote=st.booleans(),
        offset=offsets,
        jitter=st.integers(-2, 2),
        tif=tifs,
        stp=stps,
        client_id=client_ids,
    )
    def place_market(
        self,
        account: int,
        symbol: str,
        side: Side,
        size: int,
        by_quote: bool,
        offset: int,
        jitter: int,
        tif: TimeInForce,
        stp: SelfTradePrevention,
        client_id: int | None,
    ) -> None:
        if by_quote:
            spec_market = MARKET_OF[symbol]
            quote = spec_market.notional(MIDS[symbol] + offset, size) + jitter * spec_market.quote_atoms_per_tick_step
            command = market(
                account, side, quote=quote, symbol=symbol, tif=tif, stp=stp, client_id=client_id, ts=self.ts
            )
        else:
            command = market(
                account, side, quantity=size, symbol=symbol, tif=tif, stp=stp, client_id=client_id, ts=self.ts
            )
        self.apply(command)

    @rule(data=st.data(), account=accounts, symbol=symbols, kind=st.sampled_from(["id", "own", "client", "all"]))
    def cancel(self, data: st.DataObject, account: int, symbol: str, kind: str) -> None:
        if kind == "own" and self.engine.open_orders:
            spec = self.engine.open_orders[data.draw(st.sampled_from(sorted(self.engine.open_orders)))].spec
            events = self.apply(
                CancelOrder(account_id=spec.account_id, symbol=spec.symbol, order_id=spec.id, ts=self.ts)
            )
            cancelled = of_type(events, OrderCancelled)
            assert len(cancelled) == 1 and cancelled[0].reason is CloseReason.USER_CANCEL
        elif kind == "id":
            order_id = data.draw(st.integers(1, self.engine.next_order_id + 2))
            self.apply(CancelOrder(account_id=account, symbol=symbol, order_id=order_id, ts=self.ts))
        elif kind == "client":
            client_id = data.draw(st.integers(1, 5))
            self.apply(CancelOrder(account_id=account, symbol=symbol, client_id=client_id, ts=self.ts))
        else:
            self.apply(CancelAllOrders(account_id=account, symbol=symbol, ts=self.ts))
            assert self.engine.orders_of(account, symbol) == []

    @rule(symbol=symbols, halted=st.sampled_from([True, False, False]))
    def halt(self, symbol: str, halted: bool) -> None:
        self.apply(SetMarketHalted(symbol=symbol, halted=halted, ts=self.ts))

    @precondition(lambda self: self.middle is None)
    @rule()
    def take_snapshot(self) -> None:
        snap = state.snapshot(self.engine)
        assert state.digest(state.restore(snap)) == state.digest(self.engine)
        self.middle = (snap, len(self.log.commands))

    @rule()
    def replay(self) -> None:
        """Replaying the stream from the first (and the mid-run) snapshot gives the same events and state."""
        starts = [(self.start, 0)] + ([self.middle] if self.middle is not None else [])
        for snap, first in starts:
            engine = state.restore(snap)
            for command, events in zip(self.log.commands[first:], self.log.events[first:], strict=True):
                assert engine.handle(command) == events
            assert state.digest(engine) == state.digest(self.engine)

    # -- invariants ----------------------------------------------------------------

    @invariant()
    def books_are_ordered(self) -> None:
        for symbol, book in self.engine.books.items():
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is None or ask is None or bid < ask, (symbol, bid, ask)
            for levels in (book.bids, book.asks):
                prices = list(levels.keys())
                assert prices == sorted(prices)
                for level in levels.values():
                    ids = list(level.orders)
                    assert ids == sorted(ids)

    @invariant()
    def funds_are_sound(self) -> None:
        assert_sound(self.engine)
        total = {a.symbol: 0 for a in ASSETS}
        for balance in self.engine.balances.values():
            total[balance.asset] += balance.available + balance.locked
        assert total == self.net

    @invariant()
    def open_orders_add_up(self) -> None:
        for order_id, order in self.engine.open_orders.items():
            tracked = self.orders[order_id]
            assert not tracked.closed
            assert tracked.quantity is not None and tracked.executed + order.remaining == tracked.quantity
            assert order.executed == tracked.executed and order.executed_quote == tracked.executed_quote
        closed_or_open = {i for i, t in self.orders.items() if t.closed} | set(self.engine.open_orders)
        assert closed_or_open == set(self.orders), "an accepted order neither rests nor was closed"


EngineMachine.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestEngine = EngineMachine.TestCase
