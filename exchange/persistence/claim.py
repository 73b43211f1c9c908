"""The engine claim: PostgreSQL's word on which one engine may commit to a database.

Two engines committing to one database would interleave their batches and corrupt
balances (a deploy that overlaps the old and new instance does exactly that). So an
engine commits only while it holds the claim, and the database enforces it with two
mechanisms that cover each other:

- **The lock.** The writer's connection holds the session advisory lock `LOCK`
  (`pg_try_advisory_lock`). Only one session holds it; it is released when that
  session ends, however it ends (kill -9 of the process, a lost connection,
  `pg_terminate_backend`), which is how a standby learns that the active engine died.
- **The fence.** Taking the claim raises `engine_claim.epoch` by one, and every commit
  runs `FENCE` inside its own transaction: it locks the claim row and raises SQLSTATE
  `FENCED` unless the row still holds the epoch this engine claimed. A new claimant's
  `UPDATE` waits for that row lock, so an old engine's commit is either entirely before
  the new claim (and the new engine loads it) or refused. An engine whose session
  ended can therefore never commit again on a new session: the epoch has moved on.

Handover and news travel on the channel `CHANNEL` (LISTEN/NOTIFY): an instance that
starts while another holds the claim sends `handover`; the holder drains and releases.
Whoever takes the claim announces `claimed <epoch>`, so a holder that somehow missed
losing its session learns it at once. Notifications are hints: the fence alone makes
a stale engine harmless.
"""

from __future__ import annotations

import os
import socket

import asyncpg

from exchange.engine.errors import ExchangeError

LOCK = 0x65786368616E6765
"""The advisory lock key (b"exchange"); advisory locks are per database."""
CHANNEL = "exchange_engine"
FENCED = "EXF01"
"""SQLSTATE raised by `engine_fence` (migration 0003) when the claimed epoch is not the row's."""
HANDOVER = "handover"
CLAIMED = "claimed"

FENCE = "UPDATE engine_claim SET committed_at = now() WHERE engine_fence(epoch, ${n}::text::bigint)"
"""The fence as a data-modifying `WITH` part (always executed, whatever the main statement reads)."""


class ClaimLostError(ExchangeError):
    """This engine no longer holds the database's claim: it must not commit or answer as the engine."""


class ClaimHeldError(ExchangeError):
    """Another engine holds the claim."""


def holder_name() -> str:
    """Who claims: host and process id, shown in `engine_claim.holder`."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def try_lock(pg: asyncpg.Connection) -> bool:
    """Take the advisory lock on this session if it is free."""
    return bool(await pg.fetchval("SELECT pg_try_advisory_lock($1)", LOCK))


async def take(pg: asyncpg.Connection, holder: str) -> int:
    """With the lock held: raise the epoch, record the holder, announce it; return the new epoch."""
    epoch = await pg.fetchval(
        "UPDATE engine_claim SET epoch = epoch + 1, holder = $1, claimed_at = now() RETURNING epoch", holder
    )
    await pg.execute(f"NOTIFY {CHANNEL}, '{CLAIMED} {int(epoch)}'")
    return int(epoch)


async def ask_handover(pg: asyncpg.Connection) -> None:
    """Ask the engine holding the claim to drain and release it."""
    await pg.execute(f"NOTIFY {CHANNEL}, '{HANDOVER}'")


async def release(pg: asyncpg.Connection) -> None:
    """Give the lock back (the session stays usable)."""
    await pg.execute(f"SELECT pg_advisory_unlock({LOCK})")


def superseding_epoch(payload: str) -> int | None:
    """The epoch announced by a `claimed <epoch>` notification, else None."""
    word, _, value = payload.partition(" ")
    return int(value) if word == CLAIMED and value.isdigit() else None
