"""Crash test: SIGKILL the service under load, restart it, and audit what the database kept.

For each seed: a fresh migrated database; the harness (engine actor + writer, see
`harness.py`) started on it; assets, markets and funds seeded through it; several
concurrent clients send a few thousand orders and cancels, each recording what was
acknowledged; the process is killed with SIGKILL at a random point of the run. A new
process on the same database must rebuild the same state the database holds (equal
digests), and `workload.audit` checks every acknowledged outcome against the database
and the database against itself (see its docstring). A short run after the restart
shows the service carries on from there. `CRASH_TEST_SEEDS` sets how many seeds run
(3 by default), `CRASH_TEST_OPERATIONS` the operations per run (3000 by default).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from tests.persistence.workload import Acks, Harness, audit, digest_of_service, drive, seed

pytestmark = pytest.mark.anyio

SEEDS = int(os.environ.get("CRASH_TEST_SEEDS", "3"))
OPERATIONS = int(os.environ.get("CRASH_TEST_OPERATIONS", "3000"))
ACCOUNTS = range(1, 7)


async def kill_when(harness: Harness, acks: Acks, successes: int, rng: random.Random) -> None:
    """SIGKILL the harness once `successes` commands were acknowledged, at a random instant after."""
    while acks.successes < successes:
        await asyncio.sleep(0.001)
    await asyncio.sleep(rng.random() * 0.01)
    await harness.kill()


@pytest.mark.parametrize("seed_value", range(SEEDS))
async def test_kill_9_loses_nothing_acknowledged_and_applies_nothing_by_halves(
    seed_value: int, database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(seed_value)
    harness = Harness(database_url, tmp_path / "harness.log")
    await harness.start()
    acks = await seed(harness.port, ACCOUNTS)

    per_client = OPERATIONS // len(ACCOUNTS)
    kill_at = acks.successes + rng.randint(OPERATIONS // 5, OPERATIONS * 9 // 10)
    killer = asyncio.create_task(kill_when(harness, acks, kill_at, rng))
    await asyncio.gather(*(drive(harness.port, a, per_client, random.Random(rng.random()), acks) for a in ACCOUNTS))
    await killer
    assert acks.successes >= kill_at and acks.orders and acks.trades, "the workload must trade before the kill"

    await harness.start()
    assert await digest_of_service(harness.port) == await audit(database_url, acks)

    await asyncio.gather(*(drive(harness.port, a, 30, random.Random(rng.random()), acks) for a in ACCOUNTS))
    assert await digest_of_service(harness.port) == await audit(database_url, acks)
    await harness.kill()
