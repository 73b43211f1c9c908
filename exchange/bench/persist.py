"""`exchange bench persist`: how fast batches of engine events become durable.

The workload is generated up front, from a fixed seed, by running the real engine over
a crossing-heavy order flow (`workload`), so the timed part is only the writer:
`Writer.commit` of each batch, one transaction with synchronous commit, against a
scratch database created (and dropped) on the given server. Reported: durable orders/s
and trades/s over the whole run, and commit latency p50/p99 per batch.

The ceiling, measured in the same run on the same server: the bare
`copy_records_to_table` insert of the same trade rows (one COPY per batch, one
transaction each) into a table shaped like `trades` (same columns and indexes;
`exchange.persistence.floors.copy_ceiling`).
The ratio durable trades/s over ceiling trades/s says what the writer's other work
(orders, balances, candles, markets) costs on top of writing the trades alone.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.bench import DEFAULT_SERVER
from exchange.demo import ASSETS, MARKETS, REFERENCE_PRICES
from exchange.engine.commands import (
    AddAsset,
    AddMarket,
    CancelAllOrders,
    CancelOrder,
    Command,
    Deposit,
    PlaceOrder,
    SetMarketHalted,
    Withdraw,
)
from exchange.engine.engine import Engine
from exchange.engine.events import Event, OrderAccepted, TradeExecuted
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.persistence.database import create_engine, scratch_database, upgrade
from exchange.persistence.floors import copy_ceiling
from exchange.persistence.rows import Units, trade_row
from exchange.persistence.writer import Writer

START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z

MIDS = {market.symbol: market.ticks(REFERENCE_PRICES[market.symbol]) for market in MARKETS}
"""Starting mid prices in ticks."""
FUNDING = {"SOL": 10**15, "BTC": 10**12, "ETH": 10**13, "USDC": 10**13}
"""Atoms each account deposits."""


def batches(commands: Iterable[Command], size: int) -> Iterator[list[Command]]:
    """Consecutive lists of `size` commands (the last may be shorter)."""
    batch: list[Command] = []
    for command in commands:
        batch.append(command)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def workload(seed: int, orders: int, *, accounts: int = 20) -> Iterator[Command]:
    """A deterministic, crossing-heavy command stream: listings, deposits, then `orders` order commands.

    Limit orders around a drifting mid are either small passive makers or, two in five,
    large takers priced through the mid that sweep several makers. Besides, it mixes in
    IOC, FOK and post-only orders, market orders sized by base or by quote, cancels by
    clientId, cancel-all, withdrawals, repeated transfer ids and halts, so every event
    type appears.
    """
    rng = random.Random(seed)
    ts = START_US
    for asset in ASSETS:
        yield AddAsset(asset=asset, ts=ts)
    for market in MARKETS:
        yield AddMarket(market=market, ts=ts)
    for account in range(1, accounts + 1):
        for symbol, amount in FUNDING.items():
            yield Deposit(account_id=account, asset=symbol, amount=amount, transfer_id=f"d{account}{symbol}", ts=ts)
    mids = dict(MIDS)
    next_client = dict.fromkeys(range(1, accounts + 1), 1)
    for n in range(orders):
        ts += rng.randrange(0, 20_000)
        account = rng.randrange(1, accounts + 1)
        symbol = rng.choice(MARKETS).symbol
        mids[symbol] = max(100, mids[symbol] + rng.randrange(-3, 4))
        roll = rng.random()
        if roll < 0.12:
            yield CancelOrder(
                account_id=account, symbol=symbol, client_id=rng.randrange(next_client[account] + 1), ts=ts
            )
        elif roll < 0.13:
            yield CancelAllOrders(account_id=account, symbol=symbol, ts=ts)
        elif roll < 0.135:
            yield Withdraw(
                account_id=account, asset="USDC", amount=rng.randrange(1, 10**6), transfer_id=f"w{n % 50}", ts=ts
            )
        elif roll < 0.137:
            yield SetMarketHalted(symbol=symbol, halted=rng.random() < 0.2, ts=ts)
        elif roll < 0.2:
            side = rng.choice((Side.BID, Side.ASK))
            by_quote = rng.random() < 0.5
            yield PlaceOrder(
                account_id=account,
                symbol=symbol,
                side=side,
                order_type=OrderType.MARKET,
                quantity=None if by_quote else rng.randrange(1, 50),
                quote_quantity=rng.randrange(10**6, 10**8) if by_quote else None,
                self_trade_prevention=rng.choice(list(SelfTradePrevention)),
                ts=ts,
            )
        else:
            side = rng.choice((Side.BID, Side.ASK))
            taker = rng.random() < 0.4
            offset = -rng.randrange(0, 8) if taker else rng.randrange(0, 10)
            price = mids[symbol] - offset if side is Side.BID else mids[symbol] + offset
            tif = rng.choices(list(TimeInForce), weights=(8, 1, 1))[0]
            client_id = next_client[account]
            next_client[account] += 1
            yield PlaceOrder(
                account_id=account,
                symbol=symbol,
                side=side,
                order_type=OrderType.LIMIT,
                price=price,
                quantity=rng.randrange(20, 150) if taker else rng.randrange(1, 30),
                time_in_force=tif,
                post_only=tif is TimeInForce.GTC and rng.random() < 0.1,
                self_trade_prevention=rng.choice(list(SelfTradePrevention)),
                client_id=client_id,
                ts=ts,
            )


@dataclass(frozen=True, slots=True)
class Figures:
    """What one run measured."""

    commands: int
    batches: int
    orders: int
    trades: int
    seconds: float
    latencies: list[float]
    ceiling_seconds: float

    def report(self) -> str:
        """The figures as the lines the command prints."""
        latencies = sorted(self.latencies)
        p50 = latencies[len(latencies) // 2] * 1000
        p99 = latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)] * 1000
        trades_per_s = self.trades / self.seconds
        ceiling = self.trades / self.ceiling_seconds if self.ceiling_seconds else float("inf")
        return "\n".join(
            (
                f"workload: {self.commands} commands in {self.batches} batches -> {self.orders} orders, "
                f"{self.trades} trades",
                f"writer:   {self.orders / self.seconds:,.0f} orders/s, {trades_per_s:,.0f} trades/s durable "
                f"(commit p50 {p50:.2f} ms, p99 {p99:.2f} ms)",
                f"ceiling:  {ceiling:,.0f} trades/s (bare copy_records_to_table of the same trade rows)",
                f"ratio:    {trades_per_s / ceiling:.2f} of the ceiling (targets: >= 20,000 trades/s, >= 0.30)",
            )
        )


def main(*, orders: int, batch: int, seed: int, server_url: str | None) -> None:
    """Run the benchmark and print its figures."""
    print(asyncio.run(measure(orders=orders, batch=batch, seed=seed, server_url=server_url or DEFAULT_SERVER)).report())


async def measure(*, orders: int, batch: int, seed: int, server_url: str) -> Figures:
    """Generate the workload, then time the writer and the bare COPY ceiling in a scratch database."""
    engine = Engine()
    results = [[engine.handle(command) for command in commands] for commands in batches(workload(seed, orders), batch)]
    events = [event for result in results for events in result for event in events]
    async with scratch_writer(server_url, "exchange_bench") as (db, writer):
        latencies = []
        for result in results:
            started = time.perf_counter()
            await writer.commit(result)
            latencies.append(time.perf_counter() - started)
        await writer.close()
        ceiling_seconds = await _copy_ceiling(db, results)
    return Figures(
        commands=sum(len(result) for result in results),
        batches=len(results),
        orders=sum(isinstance(event, OrderAccepted) for event in events),
        trades=sum(isinstance(event, TradeExecuted) for event in events),
        seconds=sum(latencies),
        latencies=latencies,
        ceiling_seconds=ceiling_seconds,
    )


@asynccontextmanager
async def scratch_writer(server_url: str, prefix: str) -> AsyncIterator[tuple[AsyncEngine, Writer]]:
    """A migrated scratch database on `server_url` and a writer holding its claim; closed and dropped on exit."""
    async with scratch_database(server_url, prefix=prefix) as url:
        await asyncio.to_thread(upgrade, url)
        db = create_engine(url)
        try:
            writer = Writer(db)
            await writer.claim()
            try:
                yield db, writer
            finally:
                await writer.close()
        finally:
            await db.dispose()


async def _copy_ceiling(db: AsyncEngine, results: Sequence[Sequence[Sequence[Event]]]) -> float:
    """Seconds to COPY each batch's trade rows, one transaction per batch, into a copy of `trades`."""
    units = {market.symbol: Units.of(market) for market in MARKETS}
    return await copy_ceiling(
        db,
        [
            [trade_row(units[e.symbol], e) for events in result for e in events if isinstance(e, TradeExecuted)]
            for result in results
        ],
    )
