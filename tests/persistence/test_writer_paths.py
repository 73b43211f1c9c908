"""The writer's two shapes of a batch and its own connection.

A small batch is one statement in a transaction of its own; a large one is a transaction
of COPY orders, COPY trades and the same statement for the rest. Both must leave exactly
what the engine computed. Text goes to the server inside array literals, so quotes,
backslashes, commas, braces and the word NULL must come back as they were sent. The
writer keeps one connection across batches, on which it looks rows up by primary key
whatever the statistics, gives it back on `close` as it found it, and replaces a
connection the server dropped while it was idle without failing the next batch.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from exchange.bench.persist import batches, workload
from exchange.engine import state
from exchange.engine.commands import AddAsset, Chain, Command, Deposit, SettleWithdrawal, Withdraw
from exchange.engine.engine import Engine
from exchange.engine.events import Rejected
from exchange.engine.numbers import Asset
from exchange.persistence import tables
from exchange.persistence.claim import ClaimLostError
from exchange.persistence.database import create_engine
from exchange.persistence.recovery import load_engine
from exchange.persistence.rows import timestamp
from exchange.persistence.timestamps import to_datetime
from exchange.persistence.writer import Writer


def persist_and_reload(url: str, copy_rows: int) -> tuple[Engine, Engine]:
    """Run a workload through a writer with `copy_rows`; return the engine and the one reloaded from the database."""
    engine = Engine()

    async def main() -> Engine:
        db = create_engine(url)
        writer = Writer(db, copy_rows=copy_rows)
        await writer.claim()
        try:
            for commands in batches(workload(5, 1500), 60):
                await writer.commit([engine.handle(c) for c in commands])
            await writer.close()
            return await load_engine(db)
        finally:
            await db.dispose()

    return engine, asyncio.run(main())


def test_single_statement_batches_store_what_the_engine_computed(database_url: str) -> None:
    original, loaded = persist_and_reload(database_url, copy_rows=10**9)
    assert original.next_trade_id > 100 and original.open_orders
    assert state.digest(loaded) == state.digest(original)


def test_copy_batches_store_what_the_engine_computed(database_url: str) -> None:
    original, loaded = persist_and_reload(database_url, copy_rows=0)
    assert state.digest(loaded) == state.digest(original)


def test_the_writer_keeps_one_connection_and_losing_it_loses_the_claim(database_url: str) -> None:
    engine = Engine()
    runs = [[engine.handle(c) for c in commands] for commands in batches(workload(6, 300), 40)]

    async def backend(writer: Writer) -> int:
        pid: int = await writer._pg.fetchval("SELECT pg_backend_pid()")
        return pid

    async def main() -> None:
        db = create_engine(database_url)
        writer = Writer(db)
        epoch = await writer.claim()
        try:
            await writer.commit(runs[0])
            first = await backend(writer)
            await writer.commit(runs[1])
            assert await backend(writer) == first
            assert db.pool.checkedout() == 1  # type: ignore[attr-defined]
            async with db.connect() as admin:
                await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            await asyncio.sleep(0.2)  # the writer's connection sees the server close it
            assert not writer.holds_claim
            with pytest.raises(ClaimLostError):
                await writer.commit(runs[2])
            assert await writer.claim() == epoch + 1, "claiming again is a new epoch"
            for run in runs[2:]:
                await writer.commit(run)
            assert await backend(writer) != first
            await writer.close()
            assert db.pool.checkedout() == 0  # type: ignore[attr-defined]
            assert state.digest(await load_engine(db)) == state.digest(engine)
        finally:
            await db.dispose()

    asyncio.run(main())


def test_the_writers_connection_looks_rows_up_by_primary_key_and_the_pool_gets_it_back_as_it_was(
    database_url: str,
) -> None:
    engine = Engine()
    runs = [[engine.handle(c) for c in commands] for commands in batches(workload(8, 200), 40)]
    ids = "unnest('{1,2}'::bigint[], '{a,b}'::text[]) AS u(id, s)"
    by_id = f"UPDATE orders AS o SET status = u.s FROM {ids} WHERE o.id = u.id"

    async def main() -> None:
        db = create_engine(database_url)
        writer = Writer(db)
        await writer.claim()
        try:
            for run in runs:
                await writer.commit(run)
            pg = writer._pg
            plan = "\n".join(r[0] for r in await pg.fetch(f"EXPLAIN {by_id}"))
            assert "Index Scan using pk_orders" in plan and "Seq Scan on orders" not in plan, plan
            await writer.close()  # the connection goes back to the pool, still open
            settings = await pg.fetchrow(
                "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')"
            )
            assert tuple(settings) == ("on", "on")
        finally:
            await db.dispose()

    asyncio.run(main())


def test_text_that_needs_quoting_in_an_array_literal_is_stored_verbatim(database_url: str) -> None:
    engine = Engine()
    odd = ['a"b', "back\\slash", "com,ma", "{brace}", "NULL", " spaced ", ""]
    listing = [engine.handle(AddAsset(asset=Asset(symbol="USDC", decimals=6), ts=1))]
    deposits = [
        engine.handle(Deposit(account_id=1, asset="USDC", amount=n + 1, transfer_id=t, ts=2)) for n, t in enumerate(odd)
    ]
    assert not any(isinstance(events[0], Rejected) for events in deposits)

    async def main() -> set[str]:
        db = create_engine(database_url)
        writer = Writer(db)
        await writer.claim()
        try:
            await writer.commit(listing)
            await writer.commit(deposits)
            await writer.close()
            async with db.connect() as connection:
                return set((await connection.scalars(select(tables.transfers.c.transfer_id))).all())
        finally:
            await db.dispose()

    assert asyncio.run(main()) == set(odd)


@given(st.integers(min_value=0, max_value=253_402_300_799_999_999))  # 1970 to the end of year 9999
def test_timestamp_literals_are_exact_to_the_microsecond(micros: int) -> None:
    assert datetime.fromisoformat(timestamp(micros)) == to_datetime(micros)


def test_the_server_reads_timestamp_literals_as_the_same_microsecond(database_url: str) -> None:
    moments = [0, 999_999, 1_000_000, 1_767_225_599_999_999, 1_767_225_600_000_000, 1_767_225_600_000_001]

    async def main() -> list[datetime]:
        db = create_engine(database_url)
        try:
            async with db.connect() as connection:
                query = text("SELECT unnest(CAST(:moments AS text[]))::timestamptz")
                return list((await connection.scalars(query, {"moments": [timestamp(m) for m in moments]})).all())
        finally:
            await db.dispose()

    assert asyncio.run(main()) == [to_datetime(m) for m in moments]


def test_withdrawals_settled_in_their_own_batch_or_a_later_one_are_stored_settled(database_url: str) -> None:
    engine = Engine()
    btc = Asset(symbol="BTC", decimals=8, blockchains=("Bitcoin", "Lightning"))
    chain = Chain(blockchain="Bitcoin", address="bc1q")

    def withdraw(transfer_id: str) -> Withdraw:
        return Withdraw(account_id=1, asset="BTC", amount=10, transfer_id=transfer_id, chain=chain, ts=3)

    runs: list[list[Command]] = [
        [AddAsset(asset=btc, ts=1), Deposit(account_id=1, asset="BTC", amount=100, transfer_id="in", ts=2)],
        [
            withdraw("same-batch"),
            withdraw("next-batch"),
            SettleWithdrawal(transfer_id="same-batch", confirmed=True, transaction_hash="tx1", ts=4),
        ],
        [SettleWithdrawal(transfer_id="next-batch", confirmed=False, ts=5), withdraw("still-pending")],
    ]

    async def main() -> tuple[Engine, list[tuple[str, str, str | None]]]:
        db = create_engine(database_url)
        writer = Writer(db)
        await writer.claim()
        try:
            for commands in runs:
                results = [engine.handle(c) for c in commands]
                assert not any(isinstance(e, Rejected) for events in results for e in events)
                await writer.commit(results)
            await writer.close()
            t = tables.transfers.c
            async with db.connect() as connection:
                rows = await connection.execute(
                    select(t.transfer_id, t.status, t.transaction_hash).where(t.kind == "withdrawal").order_by(t.id)
                )
                stored = [tuple(row) for row in rows]
            return await load_engine(db), stored
        finally:
            await db.dispose()

    loaded, stored = asyncio.run(main())
    assert stored == [
        ("same-batch", "confirmed", "tx1"),
        ("next-batch", "failed", None),
        ("still-pending", "pending", None),
    ]
    assert list(loaded.pending_withdrawals) == ["still-pending"]
    assert loaded.assets["BTC"].blockchains == ("Bitcoin", "Lightning")
    assert loaded.balances_of(1)["BTC"] == (80, 0)
    assert state.digest(loaded) == state.digest(engine)
