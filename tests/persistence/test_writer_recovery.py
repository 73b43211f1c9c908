"""Writer and recovery round trip: what the engine did survives the database exactly."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from exchange.bench.persist import batches, workload
from exchange.demo import BTC
from exchange.engine import state
from exchange.engine.actor import CommitRefused
from exchange.engine.commands import AddAsset, Command, Deposit
from exchange.engine.engine import Engine
from exchange.engine.errors import RejectReason
from exchange.engine.events import BalanceChanged, Deposited, Event, Rejected
from exchange.persistence import tables
from exchange.persistence.claim import ClaimLostError
from exchange.persistence.database import create_engine
from exchange.persistence.recovery import CorruptStateError, load_engine
from exchange.persistence.writer import Writer


def run_and_persist(url: str, seed: int, orders: int, batch: int) -> Engine:
    """Drive an engine through a workload, committing each batch; return the engine."""
    engine = Engine()

    async def main() -> None:
        db = create_engine(url)
        writer = Writer(db)
        await writer.claim()
        try:
            for commands in batches(workload(seed, orders), batch):
                await writer.commit([engine.handle(c) for c in commands])
            await writer.close()
        finally:
            await db.dispose()

    asyncio.run(main())
    return engine


def load(url: str) -> Engine:
    async def main() -> Engine:
        db = create_engine(url)
        try:
            return await load_engine(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_round_trip_restores_the_same_state(database_url: str) -> None:
    original = run_and_persist(database_url, seed=1, orders=3000, batch=37)
    assert original.next_trade_id > 500 and original.open_orders
    loaded = load(database_url)
    assert state.digest(loaded) == state.digest(original)
    restored, expected = state.snapshot(loaded), state.snapshot(original)
    assert set(restored.balances) == set(expected.balances)
    assert restored.open_orders == expected.open_orders
    assert set(restored.markets) == set(expected.markets)


def test_recovered_engine_continues_like_the_original(database_url: str) -> None:
    original = run_and_persist(database_url, seed=2, orders=800, batch=50)
    loaded = load(database_url)
    for command in list(workload(3, 400))[-300:]:
        assert loaded.handle(command) == original.handle(command)
    assert state.digest(loaded) == state.digest(original)


def test_corrupt_locked_balance_refuses_to_load(database_url: str) -> None:
    original = run_and_persist(database_url, seed=4, orders=500, batch=25)
    account, asset = next((b.account_id, b.asset) for b in original.balances.values() if b.locked)

    async def corrupt() -> None:
        db = create_engine(database_url)
        try:
            async with db.begin() as connection:
                b = tables.balances
                where = (b.c.account_id == account) & (b.c.asset == asset)
                await connection.execute(update(b).where(where).values(locked=b.c.locked + 1))
        finally:
            await db.dispose()

    asyncio.run(corrupt())
    with pytest.raises(CorruptStateError, match=rf"account {account} asset {asset}: locked \S+ but"):
        load(database_url)


def test_a_failed_commit_leaves_nothing_and_the_writer_goes_on(database_url: str) -> None:
    listing: list[Command] = [
        AddAsset(asset=BTC, ts=1),
        Deposit(account_id=1, asset="BTC", amount=5, transfer_id="a", ts=2),
    ]
    engine = Engine()
    first = [engine.handle(c) for c in listing]
    again = [engine.handle(Deposit(account_id=1, asset="BTC", amount=7, transfer_id="b", ts=3))]
    replayed_transfer: list[Event] = [
        Deposited(account_id=1, asset="BTC", amount=7, transfer_id="a", ts=3),  # the id is taken: the batch fails
        BalanceChanged(account_id=1, asset="BTC", available=12, locked=0, ts=3),
    ]

    async def main() -> list[tuple[str, object]]:
        db = create_engine(database_url)
        try:
            writer = Writer(db)
            await writer.claim()
            await writer.commit(first)
            with pytest.raises(CommitRefused) as refused:
                await writer.commit([replayed_transfer])
            assert refused.value.reason is RejectReason.DUPLICATE_TRANSFER
            async with db.connect() as connection:
                balance = await connection.scalar(select(tables.balances.c.available))
            await writer.commit(again)
            await writer.close()
            async with db.connect() as connection:
                return [
                    ("after failure", balance),
                    ("after retry", await connection.scalar(select(tables.balances.c.available))),
                ]
        finally:
            await db.dispose()

    assert asyncio.run(main()) == [("after failure", Decimal("5E-8")), ("after retry", Decimal("1.2E-7"))]


def test_without_the_claim_the_writer_commits_nothing_not_even_rejections() -> None:
    engine = Engine()
    rejected = [engine.handle(Deposit(account_id=1, asset="NOPE", amount=1, transfer_id="x", ts=1))]
    assert isinstance(rejected[0][0], Rejected)

    async def main() -> None:
        unreachable = create_engine("postgresql://postgres@127.0.0.1:9/nowhere")
        try:
            with pytest.raises(ClaimLostError):
                await Writer(unreachable).commit(rejected)
        finally:
            await unreachable.dispose()

    asyncio.run(main())
