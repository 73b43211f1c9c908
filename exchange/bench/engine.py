"""Engine benchmark: the full engine against a bare price-time matcher on one stream.

The workload is fixed by its seed: a mid price that random-walks; 70% of orders rest
within 50 ticks of mid, 30% cross it by 1 to 5 ticks; after about one order in ten,
a cancel of a random recent order. Orders come from many funded accounts, with
self-trade prevention `Allow` so that every matcher is asked exactly the same thing.

The ceiling is `BareMatcher`: a SortedDict of price levels, FIFO dicts per level,
cancel by id, and nothing else (no balances, no events, no validation). Between the
two sits `FloorMatcher`, the bare loop plus the engine's bookkeeping and nothing else:
it shows how much of the gap is the bookkeeping itself and how much the engine's
structure (tests check that it ends with the engine's balances, to the atom). Each
matcher's events are consumed command by command, as the engine actor hands them to
the writer, not kept for the whole run. The run checks that all three produced the
same number of trades and the same traded volume, then prints throughput (median of
the repeats), the ratios, and the engine's per-command latency.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from sortedcontainers import SortedDict

from exchange.demo import SOL_USDC
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Command, Deposit, PlaceOrder
from exchange.engine.core import Balance
from exchange.engine.engine import Engine
from exchange.engine.events import TradeExecuted
from exchange.engine.numbers import FEE_ACCOUNT, Market, fee_atoms
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, reservation

SYMBOL = SOL_USDC.symbol
ACCOUNTS = 64
FloorEvent = tuple[Any, ...]
"""One event of the floor matcher: its kind, then the same facts as the engine's event, positionally."""


@dataclass(frozen=True, slots=True)
class Step:
    """One workload step: a limit order (`cancel` None) or `account`'s cancel of order number `cancel`."""

    account: int
    is_bid: bool
    price: int
    quantity: int
    cancel: int | None = None


def workload(orders: int, seed: int) -> list[Step]:
    """The fixed-seed stream of orders and cancels (order numbers count from 1)."""
    rng = random.Random(seed)
    mid = 100_000
    steps: list[Step] = []
    owners: list[int] = []
    for number in range(1, orders + 1):
        mid += rng.choice((-1, 0, 1))
        is_bid = rng.random() < 0.5
        offset = -rng.randint(1, 50) if rng.random() < 0.7 else rng.randint(1, 5)  # passive 70%, crossing 30%
        price = mid + offset if is_bid else mid - offset
        owners.append(rng.randrange(1, ACCOUNTS + 1))
        steps.append(Step(owners[-1], is_bid, price, rng.randint(1, 100)))
        if rng.random() < 0.1:
            target = rng.randint(max(1, number - 200), number)
            steps.append(Step(owners[target - 1], False, 0, 0, cancel=target))
    return steps


class BareMatcher:
    """The ceiling: price-time matching with SortedDict levels and nothing else."""

    def __init__(self) -> None:
        self.bids: SortedDict[int, dict[int, list[int]]] = SortedDict()
        self.asks: SortedDict[int, dict[int, list[int]]] = SortedDict()
        self.where: dict[int, tuple[SortedDict[int, dict[int, list[int]]], int]] = {}
        self.trades = 0
        self.volume = 0

    def limit(self, order_id: int, is_bid: bool, price: int, quantity: int) -> None:
        """Match a limit order, then rest what is left."""
        opposite = self.asks if is_bid else self.bids
        while quantity and opposite:
            best, level = opposite.peekitem(0 if is_bid else -1)
            if (best > price) if is_bid else (best < price):
                break
            for maker_id, maker in list(level.items()):
                fill = min(quantity, maker[0])
                maker[0] -= fill
                quantity -= fill
                self.trades += 1
                self.volume += fill
                if not maker[0]:
                    del level[maker_id]
                    del self.where[maker_id]
                if not quantity:
                    break
            if not level:
                del opposite[best]
        if quantity:
            own = self.bids if is_bid else self.asks
            level = own.get(price)
            if level is None:
                level = own[price] = {}
            level[order_id] = [quantity]
            self.where[order_id] = (own, price)

    def cancel(self, order_id: int) -> None:
        """Cancel a resting order if it is still there."""
        found = self.where.pop(order_id, None)
        if found is not None:
            side, price = found
            level = side[price]
            del level[order_id]
            if not level:
                del side[price]


class FloorOrder:
    """The floor's resting order: its owner's two balances ride along, so a fill looks nothing up."""

    __slots__ = ("id", "account", "is_bid", "price", "remaining", "executed", "executed_quote", "base", "quote")

    def __init__(self, order_id: int, is_bid: bool, price: int, quantity: int, base: Balance, quote: Balance) -> None:
        self.id, self.account, self.is_bid, self.price = order_id, base.account_id, is_bid, price
        self.remaining, self.executed, self.executed_quote = quantity, 0, 0
        self.base, self.quote = base, quote


class FloorMatcher:
    """A floor under the engine's cost: the bare matcher's loop plus the engine's bookkeeping, in one function.

    It does to balances exactly what the engine does for a limit order, through the
    engine's own rules (`reservation`, `Market.notional`, `fee_atoms`): lock the
    reservation, fill at the maker's price, release the price improvement, charge the
    fees on what each side receives into the fee account, release the rest on cancel.
    It reports what the engine's events carry, each as a plain tuple: the accepted
    order, each trade with both orders' totals after it, the depth diff with level
    totals and the next sequence, and every touched balance. It leaves out what the
    engine must also do: validation, market orders, fill-or-kill and its read-only plan,
    self-trade prevention, order records with statuses, typed events. So no engine with
    the same bookkeeping, written in CPython, can beat it by much; the gap between it
    and the bare matcher is what the bookkeeping itself costs.
    """

    def __init__(self, balances: dict[tuple[int, str], Balance], market: Market) -> None:
        self.balances = balances
        self.market = market
        self.bids: SortedDict[int, dict[int, FloorOrder]] = SortedDict()
        self.asks: SortedDict[int, dict[int, FloorOrder]] = SortedDict()
        self.sizes: tuple[dict[int, int], dict[int, int]] = ({}, {})  # (asks, bids): price -> total steps
        self.open: dict[int, FloorOrder] = {}
        self.next_trade_id = 1
        self.sequence = 0

    def limit(self, order_id: int, account: int, is_bid: bool, price: int, quantity: int, ts: int) -> list[FloorEvent]:
        """Lock, match, rest what is left; return the events."""
        market = self.market
        per_step, notional = market.base_atoms_per_step, market.notional
        base, quote = self.balances[account, market.base.symbol], self.balances[account, market.quote.symbol]
        paying = quote if is_bid else base
        locked = reservation(market, Side.BID if is_bid else Side.ASK, price, quantity)
        if paying.available < locked:
            return [("rejected", order_id, ts)]
        paying.available -= locked
        paying.locked += locked
        touched = {id(paying): paying}
        events: list[FloorEvent] = [("accepted", order_id, account, is_bid, price, quantity, ts)]
        taker = FloorOrder(order_id, is_bid, price, quantity, base, quote)
        fee_base, fee_quote = (
            self.balances[FEE_ACCOUNT, market.base.symbol],
            self.balances[FEE_ACCOUNT, market.quote.symbol],
        )
        buyer_bps, seller_bps = (
            (market.taker_fee_bps, market.maker_fee_bps) if is_bid else (market.maker_fee_bps, market.taker_fee_bps)
        )
        opposite = self.asks if is_bid else self.bids
        opposite_sizes = self.sizes[not is_bid]
        changed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        while taker.remaining and opposite:
            best, level = opposite.peekitem(0 if is_bid else -1)
            if (best > price) if is_bid else (best < price):
                break
            for maker in list(level.values()):
                steps = min(taker.remaining, maker.remaining)
                base_atoms, quote_atoms = steps * per_step, notional(best, steps)
                buyer, seller = (taker, maker) if is_bid else (maker, taker)
                buyer_fee, seller_fee = fee_atoms(base_atoms, buyer_bps), fee_atoms(quote_atoms, seller_bps)
                buyer.quote.locked -= notional(buyer.price, steps)
                buyer.quote.available += notional(buyer.price - best, steps)
                buyer.base.available += base_atoms - buyer_fee
                seller.base.locked -= base_atoms
                seller.quote.available += quote_atoms - seller_fee
                fee_base.available += buyer_fee
                fee_quote.available += seller_fee
                for balance in (buyer.quote, buyer.base, seller.base, seller.quote, fee_base, fee_quote):
                    touched[id(balance)] = balance
                for order in (maker, taker):
                    order.remaining -= steps
                    order.executed += steps
                    order.executed_quote += quote_atoms
                events.append(
                    (
                        "trade", self.next_trade_id, best, steps, quote_atoms, maker.id, taker.id,
                        maker.account, taker.account, buyer_fee, seller_fee,
                        maker.executed, maker.executed_quote, taker.executed, taker.executed_quote, ts,
                    )
                )  # fmt: skip
                self.next_trade_id += 1
                opposite_sizes[best] -= steps
                changed[not is_bid][best] = opposite_sizes[best]
                if not maker.remaining:
                    del level[maker.id]
                    del self.open[maker.id]
                if not taker.remaining:
                    break
            if not level:
                del opposite[best]
                del opposite_sizes[best]
        if taker.remaining:
            own, own_sizes = (self.bids if is_bid else self.asks), self.sizes[is_bid]
            level = own.get(price)
            if level is None:
                level = own[price] = {}
            level[order_id] = taker
            self.open[order_id] = taker
            own_sizes[price] = changed[is_bid][price] = own_sizes.get(price, 0) + taker.remaining
        return self._close(events, changed, touched, ts)

    def cancel(self, order_id: int, account: int, ts: int) -> list[FloorEvent]:
        """Cancel a resting order of `account`, releasing what it still reserves; return the events."""
        order = self.open.get(order_id)
        if order is None or order.account != account:
            return [("rejected", order_id, ts)]
        del self.open[order_id]
        side, sizes = (self.bids if order.is_bid else self.asks), self.sizes[order.is_bid]
        level = side[order.price]
        del level[order_id]
        if not level:
            del side[order.price]
        sizes[order.price] -= order.remaining
        changed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        changed[order.is_bid][order.price] = sizes.pop(order.price) if not level else sizes[order.price]
        paying = order.quote if order.is_bid else order.base
        unspent = reservation(self.market, Side.BID if order.is_bid else Side.ASK, order.price, order.remaining)
        paying.locked -= unspent
        paying.available += unspent
        events: list[FloorEvent] = [("cancelled", order_id, order.executed, order.executed_quote, ts)]
        return self._close(events, changed, {id(paying): paying}, ts)

    def _close(
        self,
        events: list[FloorEvent],
        changed: tuple[dict[int, int], dict[int, int]],
        touched: dict[int, Balance],
        ts: int,
    ) -> list[FloorEvent]:
        self.sequence += 1
        asks, bids = changed
        events.append(("depth", self.sequence, tuple(sorted(bids.items())), tuple(sorted(asks.items())), ts))
        for balance in touched.values():
            events.append(("balance", balance.account_id, balance.asset, balance.available, balance.locked, ts))
        return events


def _setup() -> tuple[Engine, list[Command]]:
    engine = Engine()
    setup: list[Command] = [
        AddAsset(asset=SOL_USDC.base, ts=0),
        AddAsset(asset=SOL_USDC.quote, ts=0),
        AddMarket(market=SOL_USDC, ts=0),
    ]
    for account in range(1, ACCOUNTS + 1):
        for asset in ("SOL", "USDC"):
            setup.append(Deposit(account_id=account, asset=asset, amount=10**18, transfer_id=f"{account}{asset}", ts=0))
    for command in setup:
        engine.handle(command)
    return engine, setup


def _commands(steps: list[Step]) -> list[Command]:
    commands: list[Command] = []
    for ts, step in enumerate(steps, start=1):
        if step.cancel is not None:
            commands.append(CancelOrder(account_id=step.account, symbol=SYMBOL, order_id=step.cancel, ts=ts))
        else:
            commands.append(
                PlaceOrder(
                    account_id=step.account,
                    symbol=SYMBOL,
                    side=Side.BID if step.is_bid else Side.ASK,
                    order_type=OrderType.LIMIT,
                    price=step.price,
                    quantity=step.quantity,
                    self_trade_prevention=SelfTradePrevention.ALLOW,
                    ts=ts,
                )
            )
    return commands


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    trades: int
    volume: int


def run_engine(steps: list[Step]) -> Run:
    """Feed the stream through a funded engine, counting trades from each command's events as they come."""
    engine, _ = _setup()
    commands = _commands(steps)
    handle = engine.handle
    trades = volume = 0
    started = time.perf_counter()
    for command in commands:
        for event in handle(command):
            if type(event) is TradeExecuted:
                trades += 1
                volume += event.quantity
    return Run(time.perf_counter() - started, trades, volume)


def funded_floor() -> FloorMatcher:
    """A floor matcher holding copies of the balances `_setup` funds the engine with, fee account included."""
    engine, _ = _setup()
    balances = {key: Balance(b.account_id, b.asset, b.available, b.locked) for key, b in engine.balances.items()}
    for asset in (SOL_USDC.base.symbol, SOL_USDC.quote.symbol):
        balances[FEE_ACCOUNT, asset] = Balance(FEE_ACCOUNT, asset)
    return FloorMatcher(balances, SOL_USDC)


def run_floor(steps: list[Step], floor: FloorMatcher | None = None) -> Run:
    """Feed the same stream through a funded floor matcher, counting trades from its events as they come."""
    floor = floor or funded_floor()
    limit, cancel = floor.limit, floor.cancel
    order_id = trades = volume = 0
    started = time.perf_counter()
    for ts, step in enumerate(steps, start=1):
        if step.cancel is not None:
            events = cancel(step.cancel, step.account, ts)
        else:
            order_id += 1
            events = limit(order_id, step.account, step.is_bid, step.price, step.quantity, ts)
        for event in events:
            if event[0] == "trade":
                trades += 1
                volume += event[3]
    return Run(time.perf_counter() - started, trades, volume)


def run_bare(steps: list[Step]) -> Run:
    """Feed the same stream through the bare matcher."""
    matcher = BareMatcher()
    limit, cancel = matcher.limit, matcher.cancel
    started = time.perf_counter()
    order_id = 0
    for step in steps:
        if step.cancel is not None:
            cancel(step.cancel)
        else:
            order_id += 1
            limit(order_id, step.is_bid, step.price, step.quantity)
    return Run(time.perf_counter() - started, matcher.trades, matcher.volume)


def engine_latencies(steps: list[Step]) -> list[int]:
    """Nanoseconds per command, measured one by one on a fresh engine."""
    engine, _ = _setup()
    clock = time.perf_counter_ns
    handle = engine.handle
    latencies = []
    for command in _commands(steps):
        started = clock()
        handle(command)
        latencies.append(clock() - started)
    return latencies


def percentile(sorted_values: list[int], fraction: float) -> int:
    """The value at `fraction` of a sorted list (nearest rank)."""
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def main(orders: int = 200_000, seed: int = 7, repeat: int = 3) -> None:
    """Run the three matchers `repeat` times on the same stream and print the figures."""
    steps = workload(orders, seed)
    commands = len(steps)
    runs: dict[str, list[Run]] = {"engine": [], "floor": [], "bare": []}
    for _ in range(repeat):
        runs["bare"].append(run_bare(steps))
        runs["floor"].append(run_floor(steps))
        runs["engine"].append(run_engine(steps))
    first = {name: (r[0].trades, r[0].volume) for name, r in runs.items()}
    if len(set(first.values())) != 1:
        raise SystemExit(f"matchers disagree on (trades, volume): {first}")
    rate = {name: commands / statistics.median(r.seconds for r in measured) for name, measured in runs.items()}
    latencies = sorted(engine_latencies(steps))
    print(
        f"workload: {orders:,} orders + {commands - orders:,} cancels, seed {seed}, {runs['engine'][0].trades:,} trades"
    )
    print(f"engine (balances, fees, events):   {rate['engine']:>10,.0f} commands/s  (median of {repeat})")
    print(f"floor (its bookkeeping, one loop): {rate['floor']:>10,.0f} commands/s  (median of {repeat})")
    print(f"bare sortedcontainers matcher:     {rate['bare']:>10,.0f} commands/s  (median of {repeat})")
    print(f"ratio engine/bare: {rate['engine'] / rate['bare']:.2f}   floor/bare: {rate['floor'] / rate['bare']:.2f}")
    print(
        "engine latency per command: "
        f"p50 {percentile(latencies, 0.5) / 1000:.1f} µs, "
        f"p99 {percentile(latencies, 0.99) / 1000:.1f} µs, "
        f"p99.9 {percentile(latencies, 0.999) / 1000:.1f} µs"
    )


if __name__ == "__main__":
    main()
