"""Engine benchmark: the full engine against a bare price-time matcher on one stream.

The workload is fixed by its seed: a mid price that random-walks; 70% of orders rest
within 50 ticks of mid, 30% cross it by 1 to 5 ticks; after about one order in ten,
a cancel of a random recent order. Orders come from many funded accounts, with
self-trade prevention `Allow` so that both matchers are asked exactly the same thing.

The ceiling is `BareMatcher`: a SortedDict of price levels, FIFO dicts per level,
cancel by id, and nothing else (no balances, no events, no validation). The run
checks that both produced the same number of trades and the same traded volume,
then prints throughput (median of the repeats), the ratio, and per-order latency.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

from sortedcontainers import SortedDict

from exchange.demo import SOL_USDC
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Command, Deposit, PlaceOrder
from exchange.engine.engine import Engine
from exchange.engine.events import TradeExecuted
from exchange.engine.orders import OrderType, SelfTradePrevention, Side

SYMBOL = SOL_USDC.symbol
ACCOUNTS = 64


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
    """Feed the stream through a funded engine; count trades from its events."""
    engine, _ = _setup()
    commands = _commands(steps)
    handle = engine.handle
    started = time.perf_counter()
    outcomes = [handle(command) for command in commands]
    seconds = time.perf_counter() - started
    trades = [e for events in outcomes for e in events if isinstance(e, TradeExecuted)]
    return Run(seconds, len(trades), sum(t.quantity for t in trades))


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
    """Run both matchers `repeat` times on the same stream and print the figures."""
    steps = workload(orders, seed)
    commands = len(steps)
    engine_runs, bare_runs = [], []
    for _ in range(repeat):
        bare_runs.append(run_bare(steps))
        engine_runs.append(run_engine(steps))
    engine_run, bare_run = engine_runs[0], bare_runs[0]
    if (engine_run.trades, engine_run.volume) != (bare_run.trades, bare_run.volume):
        raise SystemExit(f"matchers disagree: engine {engine_run} bare {bare_run}")
    engine_rate = commands / statistics.median(r.seconds for r in engine_runs)
    bare_rate = commands / statistics.median(r.seconds for r in bare_runs)
    latencies = sorted(engine_latencies(steps))
    print(f"workload: {orders:,} orders + {commands - orders:,} cancels, seed {seed}, {engine_run.trades:,} trades")
    print(f"engine (balances, fees, events): {engine_rate:>10,.0f} commands/s  (median of {repeat})")
    print(f"bare sortedcontainers matcher:   {bare_rate:>10,.0f} commands/s  (median of {repeat})")
    print(f"ratio engine/bare: {engine_rate / bare_rate:.2f}")
    print(
        "engine latency per command: "
        f"p50 {percentile(latencies, 0.5) / 1000:.1f} µs, "
        f"p99 {percentile(latencies, 0.99) / 1000:.1f} µs, "
        f"p99.9 {percentile(latencies, 0.999) / 1000:.1f} µs"
    )


if __name__ == "__main__":
    main()
