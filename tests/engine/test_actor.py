"""The engine actor: replies and events only after commit, halt and recovery, refusal, draining.

The commit, publish and reload callables are small test doubles standing where the
database writer and the bus plug in; `Ledger.gate` holds a commit open so a test can
look at the world while a batch is in flight.
"""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from exchange.demo import SOL, SOL_USDC, USDC
from exchange.engine import actor as actor_module
from exchange.engine.actor import CommitRefused, EngineActor, EngineUnavailableError
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Command, Deposit, PlaceOrder
from exchange.engine.engine import Engine
from exchange.engine.errors import RejectReason
from exchange.engine.events import (
    BalanceChanged,
    Deposited,
    Event,
    OrderAccepted,
    OrderCancelled,
    Rejected,
    TradeExecuted,
)
from exchange.engine.orders import OrderType, Side
from exchange.engine.queries import GetBalances, GetDepth, Holding

pytestmark = pytest.mark.anyio


def listed_engine() -> Engine:
    engine = Engine()
    for command in (AddAsset(asset=SOL, ts=1), AddAsset(asset=USDC, ts=1), AddMarket(market=SOL_USDC, ts=1)):
        engine.handle(command)
    return engine


def deposit(account_id: int, amount: int, n: int) -> Deposit:
    return Deposit(account_id=account_id, asset="USDC", amount=amount, transfer_id=f"t{n}", ts=10 + n)


def bid(account_id: int, price: int, quantity: int) -> PlaceOrder:
    return PlaceOrder(
        account_id=account_id,
        symbol="SOL_USDC",
        side=Side.BID,
        order_type=OrderType.LIMIT,
        price=price,
        quantity=quantity,
        ts=20,
    )


class Ledger:
    """Stands in for the writer and the bus: records committed batches and published events."""

    def __init__(self, reloaded: Callable[[], Engine] = listed_engine) -> None:
        self.batches: list[list[list[Event]]] = []
        self.published: list[Event] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failures = 0
        self.reload_failures = 0
        self.reloads = 0
        self.reloaded = reloaded

    async def commit(self, results: Sequence[Sequence[Event]]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unreachable")
        if any(isinstance(e, Deposited) and "\x00" in e.transfer_id for events in results for e in events):
            raise CommitRefused(RejectReason.UNSTORABLE, "invalid byte sequence for encoding UTF8: 0x00")
        self.batches.append([list(events) for events in results])

    def committed_state(self) -> Engine:
        """What a reload from this ledger gives: the listed engine plus every committed deposit."""
        engine = listed_engine()
        for event in self.committed():
            if isinstance(event, Deposited):
                engine.handle(event.recast(Deposit))
        return engine

    def publish(self, events: Sequence[Event]) -> None:
        self.published.extend(events)

    async def reload(self) -> Engine:
        self.reloads += 1
        if self.reload_failures:
            self.reload_failures -= 1
            raise ConnectionError("database still unreachable")
        return self.reloaded()

    def committed(self) -> list[Event]:
        return [event for batch in self.batches for events in batch for event in events]


async def started(
    ledger: Ledger,
    engine: Engine | None = None,
    *,
    queue_size: int = 10_000,
    max_batch: int = 1_000,
    database_timeout: float = 10.0,
) -> EngineActor:
    """A running actor over `ledger` (a listed engine unless given one), retrying reloads at once."""
    actor = EngineActor(
        commit=ledger.commit,
        publish=ledger.publish,
        reload=ledger.reload,
        queue_size=queue_size,
        max_batch=max_batch,
        retry_delay=0.001,
        database_timeout=database_timeout,
    )
    await actor.start(engine or listed_engine())
    return actor


async def held(actor: EngineActor, ledger: Ledger, command: Command) -> asyncio.Task[list[Event]]:
    """Submit `command` and hold its batch's commit open until `ledger.gate` is set."""
    ledger.gate.clear()
    reply = asyncio.create_task(actor.submit(command))
    await settle()
    return reply


async def halt_for_good(actor: EngineActor, ledger: Ledger) -> None:
    """Fail a commit and every reload after it, so the actor stays halted."""
    ledger.failures = 1
    ledger.reload_failures = 1_000_000
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 1))


async def settle() -> None:
    """Let every runnable task run until all wait on something."""
    for _ in range(20):
        await asyncio.sleep(0)


async def eventually(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.001)


async def available_usdc(actor: EngineActor, account_id: int) -> int:
    holdings: tuple[Holding, ...] = await actor.query(GetBalances(account_id=account_id))
    return next((h.available for h in holdings if h.asset == "USDC"), 0)


async def test_reply_and_publish_only_after_commit() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    reply = await held(actor, ledger, deposit(1, 500, 1))
    assert not reply.done() and ledger.published == [] and ledger.batches == []
    ledger.gate.set()
    events = await reply
    assert [type(e) for e in events] == [Deposited, BalanceChanged]
    assert ledger.batches == [[events]] and ledger.published == events
    await actor.stop()


async def test_queued_commands_share_one_commit_and_publish_in_order() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    first = await held(actor, ledger, deposit(1, 10_000_000, 1))
    rest = [asyncio.create_task(actor.submit(c)) for c in (deposit(2, 7, 2), bid(1, 100, 5), bid(1, 101, 5))]
    await settle()
    ledger.gate.set()
    replies = [await first] + [await r for r in rest]
    assert len(ledger.batches) == 2 and ledger.batches[1] == replies[1:]
    assert ledger.published == [event for events in replies for event in events]
    assert [type(r[0]) for r in replies[2:]] == [OrderAccepted, OrderAccepted]
    await actor.stop()


async def test_max_batch_splits_a_long_queue() -> None:
    ledger = Ledger()
    actor = await started(ledger, max_batch=3)
    await asyncio.gather(*(actor.submit(deposit(1, 1, n)) for n in range(7)))
    assert [len(batch) for batch in ledger.batches] == [3, 3, 1]
    await actor.stop()


async def test_failed_commit_fails_the_batch_halts_and_recovers_from_reload() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    await actor.submit(deposit(1, 100, 1))
    ledger.gate.clear()
    ledger.failures = 1
    ledger.reload_failures = 3
    lost = [asyncio.create_task(actor.submit(deposit(1, 50, n))) for n in (2, 3)]
    await settle()
    ledger.gate.set()
    for reply in lost:
        with pytest.raises(EngineUnavailableError):
            await reply
    assert ledger.published == ledger.committed()
    await eventually(lambda: actor.ready)
    assert ledger.reloads == 4
    assert await available_usdc(actor, 1) == 0, "the reloaded engine replaces the in-memory one"
    assert [type(e) for e in await actor.submit(deposit(1, 50, 2))] == [Deposited, BalanceChanged]
    await actor.stop()


async def test_halted_actor_refuses_at_once() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    await halt_for_good(actor, ledger)
    assert actor.halted and not actor.ready
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 2))
    with pytest.raises(EngineUnavailableError):
        await available_usdc(actor, 1)
    await actor.stop()
    assert ledger.batches == [] and ledger.published == []


async def test_commands_queued_behind_a_failed_batch_are_failed_too() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    ledger.failures = 1
    in_flight = await held(actor, ledger, deposit(1, 1, 1))
    queued = asyncio.create_task(actor.submit(deposit(1, 1, 2)))
    read = asyncio.create_task(available_usdc(actor, 1))
    await settle()
    ledger.gate.set()
    for reply in (in_flight, queued, read):
        with pytest.raises(EngineUnavailableError):
            await reply
    await eventually(lambda: actor.ready)
    await actor.stop()
    assert ledger.batches == []


async def test_an_engine_bug_halts_like_a_failed_commit() -> None:
    class Faulty(Engine):
        def handle(self, command: Command) -> list[Event]:
            if isinstance(command, Deposit) and command.amount == 13:
                raise RuntimeError("bug")
            return super().handle(command)

    ledger = Ledger()
    actor = await started(ledger, engine=Faulty())
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 13, 1))
    await eventually(lambda: actor.ready)
    assert ledger.batches == [] and ledger.reloads == 1
    await actor.stop()


async def test_full_inbox_refuses_immediately() -> None:
    ledger = Ledger()
    actor = await started(ledger, queue_size=2)
    in_flight = await held(actor, ledger, deposit(1, 1, 1))
    queued = [asyncio.create_task(actor.submit(deposit(1, 1, n))) for n in (2, 3)]
    await settle()
    assert actor.queue_depth == 2
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 4))
    ledger.gate.set()
    await asyncio.gather(in_flight, *queued)
    assert len(ledger.committed()) == 6
    await actor.stop()


async def test_query_waits_for_the_commit_of_what_the_engine_computed() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    reply = await held(actor, ledger, deposit(1, 500, 1))
    read = asyncio.create_task(available_usdc(actor, 1))
    await settle()
    assert not read.done(), "the engine holds an uncommitted deposit: no read may see it yet"
    ledger.gate.set()
    assert await read == 500
    await reply
    await actor.stop()


async def test_query_errors_reach_only_its_caller() -> None:
    ledger = Ledger()
    actor = await started(ledger)

    with pytest.raises(KeyError):
        await actor.query(GetDepth(symbol="NO_SUCH", limit=1))
    assert actor.ready and await available_usdc(actor, 1) == 0
    await actor.stop()


async def test_stop_drains_and_commits_everything_queued_then_refuses() -> None:
    ledger = Ledger()
    actor = await started(ledger, max_batch=2)
    ledger.gate.clear()
    replies = [asyncio.create_task(actor.submit(deposit(1, 1, n))) for n in range(5)]
    await settle()
    stopping = asyncio.create_task(actor.stop())
    await settle()
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 9))
    ledger.gate.set()
    await stopping
    assert all(len(events) == 2 for events in await asyncio.gather(*replies))
    assert sum(len(batch) for batch in ledger.batches) == 5
    assert not actor.ready


async def test_stop_while_halted_ends_the_recovery() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    await halt_for_good(actor, ledger)
    async with asyncio.timeout(5):
        await actor.stop()
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 2))


async def test_a_commit_that_never_returns_times_out_into_a_halt() -> None:
    ledger = Ledger()
    actor = await started(ledger, database_timeout=0.05)
    ledger.gate.clear()
    with pytest.raises(EngineUnavailableError):
        await actor.submit(deposit(1, 1, 1))
    ledger.gate.set()
    await eventually(lambda: actor.ready)
    assert ledger.batches == [] and ledger.reloads == 1
    await actor.stop()


async def test_a_caller_that_gives_up_does_not_disturb_the_batch() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    ledger.gate.clear()
    impatient = asyncio.create_task(actor.submit(deposit(1, 5, 1)))
    patient = asyncio.create_task(actor.submit(deposit(2, 7, 2)))
    await settle()
    impatient.cancel()
    ledger.gate.set()
    assert [type(e) for e in await patient] == [Deposited, BalanceChanged]
    assert len(ledger.batches[0]) == 2, "a command already taken is committed even if its caller left"
    assert await available_usdc(actor, 1) == 5
    await actor.stop()


def test_the_actor_imports_nothing_from_the_outer_rooms() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(Path(actor_module.__file__).read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    outer = ("exchange.persistence", "exchange.api", "exchange.streams", "sqlalchemy", "asyncpg", "starlette")
    assert "exchange.engine.engine" in imported
    assert not {name for name in imported if name.startswith(outer)}


async def test_a_command_the_database_refuses_fails_alone_and_the_actor_never_halts() -> None:
    ledger = Ledger()
    ledger.reloaded = ledger.committed_state
    actor = await started(ledger)
    ledger.gate.clear()
    good = [asyncio.create_task(actor.submit(deposit(n, 100, n))) for n in range(1, 11)]
    poison = asyncio.create_task(
        actor.submit(Deposit(account_id=99, asset="USDC", amount=5, transfer_id="x\x00y", ts=30))
    )
    more = [asyncio.create_task(actor.submit(deposit(n, 100, n))) for n in range(11, 21)]
    await settle()
    ledger.gate.set()
    replies = await asyncio.gather(*good, *more)
    assert all([type(e) for e in events] == [Deposited, BalanceChanged] for events in replies)
    [refused] = await poison
    assert isinstance(refused, Rejected) and refused.reason is RejectReason.UNSTORABLE
    assert actor.ready and not actor.halted
    assert ledger.reloads == 2, "once to leave the refused batch, once to leave the refused command"
    deposited = [e.account_id for e in ledger.committed() if isinstance(e, Deposited)]
    assert sorted(deposited) == list(range(1, 21)), "each good command is committed exactly once"
    assert [e for e in ledger.published if isinstance(e, Deposited)] == [
        e for e in ledger.committed() if isinstance(e, Deposited)
    ]
    assert [await available_usdc(actor, n) for n in (1, 20, 99)] == [100, 100, 0]
    assert [type(e) for e in await actor.submit(deposit(1, 1, 21))] == [Deposited, BalanceChanged]
    await actor.stop()


async def test_cancels_in_a_batch_are_applied_before_new_orders() -> None:
    ledger = Ledger()
    actor = await started(ledger)
    for account in (1, 2):
        await actor.submit(Deposit(account_id=account, asset="SOL", amount=10**12, transfer_id=f"s{account}", ts=1))
        await actor.submit(deposit(account, 10**12, account))
    ask = PlaceOrder(
        account_id=1, symbol="SOL_USDC", side=Side.ASK, order_type=OrderType.LIMIT, price=15_000, quantity=5, ts=2
    )
    [accepted, *_] = await actor.submit(ask)
    assert isinstance(accepted, OrderAccepted)
    ledger.gate.clear()
    taker = asyncio.create_task(actor.submit(bid(2, 15_000, 5)))
    cancel = asyncio.create_task(
        actor.submit(CancelOrder(account_id=1, symbol="SOL_USDC", order_id=accepted.order.id, ts=3))
    )
    await settle()
    ledger.gate.set()
    assert any(isinstance(e, OrderCancelled) for e in await cancel), "the cancel arrived second but went first"
    assert not any(isinstance(e, TradeExecuted) for e in await taker), "so the bid found nothing to take"
    [batch] = ledger.batches[-1:]
    assert [type(events[0]) for events in batch] == [OrderCancelled, OrderAccepted]
    await actor.stop()
