"""The engine claim against real PostgreSQL: a writer that lost it commits nothing, ever.

Each test runs two writers (two would-be engines) on one fresh database and takes the
claim away from the first the ways it can be lost: its session terminated from outside
while another engine claims, its epoch superseded, or a handover asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.bench.persist import batches, workload
from exchange.engine.actor import EngineActor, EngineUnavailableError
from exchange.engine.engine import Engine
from exchange.engine.events import Event
from exchange.engine.queries import GetListings
from exchange.persistence import tables
from exchange.persistence.claim import ClaimHeldError, ClaimLostError
from exchange.persistence.database import create_engine
from exchange.persistence.writer import Writer

Runs = list[list[list[Event]]]


def runs(n: int) -> Runs:
    engine = Engine()
    return [[engine.handle(c) for c in commands] for commands in batches(workload(3, 200), 20)][:n]


async def stored(db: AsyncEngine) -> tuple[int, int]:
    async with db.connect() as connection:
        orders = await connection.scalar(select(func.count()).select_from(tables.orders))
        epoch = await connection.scalar(select(tables.engine_claim.c.epoch))
        return int(orders or 0), int(epoch or 0)


def on(database_url: str, test: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    async def main() -> None:
        db = create_engine(database_url)
        try:
            await test(db)
        finally:
            await db.dispose()

    asyncio.run(main())


def test_a_writer_whose_session_was_terminated_never_commits_again(database_url: str) -> None:
    batch = runs(3)

    async def test(db: AsyncEngine) -> None:
        a, b = Writer(db, holder="a"), Writer(db, holder="b")
        assert await a.claim() == 1
        await a.commit(batch[0])
        with pytest.raises(ClaimHeldError):
            await b.claim()
        async with db.connect() as admin:
            pid = await a._pg.fetchval("SELECT pg_backend_pid()")
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        async with asyncio.timeout(5):
            assert await b.claim(wait=True) == 2
        before = await stored(db)
        with pytest.raises(ClaimLostError):
            await a.commit(batch[1])
        with pytest.raises(ClaimHeldError):
            await a.claim()
        assert await stored(db) == before, "the old engine wrote nothing"
        await b.commit(batch[1])
        await a.close()
        await b.close()

    on(database_url, test)


@pytest.mark.parametrize("copy_rows", [1, 10_000], ids=["transaction with COPY", "one statement"])
def test_a_superseded_epoch_is_refused_inside_the_commit(database_url: str, copy_rows: int) -> None:
    batch = runs(2)

    async def test(db: AsyncEngine) -> None:
        a = Writer(db, copy_rows=copy_rows)
        await a.claim()
        await a.commit(batch[0])
        async with db.begin() as outside:  # as a newer claimant would, without a's session ending
            await outside.execute(text("UPDATE engine_claim SET epoch = epoch + 1"))
        before = await stored(db)
        with pytest.raises(ClaimLostError, match="superseded"):
            await a.commit(batch[1])
        assert await stored(db) == before
        assert not a.holds_claim
        await a.close()

    on(database_url, test)


def test_a_new_claimant_asks_for_a_handover_and_gets_the_claim_when_released(database_url: str) -> None:
    async def test(db: AsyncEngine) -> None:
        a, b = Writer(db), Writer(db)
        asked = asyncio.Event()
        a.on_handover = asked.set
        await a.claim()
        claiming = asyncio.create_task(b.claim(wait=True, handover=True, poll=0.01))
        async with asyncio.timeout(5):
            await asked.wait()
        assert not claiming.done(), "the claim is not taken while its holder has it"
        await a.close()
        async with asyncio.timeout(5):
            assert await claiming == 2
        await b.close()

    on(database_url, test)


def test_an_engine_that_lost_its_claim_stops_answering_queries(database_url: str) -> None:
    async def test(db: AsyncEngine) -> None:
        writer = Writer(db)
        await writer.claim()

        async def reload() -> Engine:
            raise ConnectionError("the claim is elsewhere")

        actor = EngineActor(
            commit=writer.commit, publish=lambda events: None, reload=reload, claimed=lambda: writer.holds_claim
        )
        await actor.start(Engine())
        assert await actor.query(GetListings())
        async with db.begin() as outside:
            await outside.execute(text("UPDATE engine_claim SET epoch = epoch + 1"))
            await outside.execute(text("NOTIFY exchange_engine, 'claimed 99'"))
        async with asyncio.timeout(5):
            while writer.holds_claim:
                await asyncio.sleep(0.01)
        with pytest.raises(EngineUnavailableError):
            await actor.query(GetListings())
        assert actor.halted
        await actor.stop()
        await writer.close()

    on(database_url, test)
