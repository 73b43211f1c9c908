"""The engine seat: which role this instance holds for its database, and how it moves between them.

Exactly one engine commits to a database at a time (`exchange.persistence.claim`). An
instance takes one of these roles:

- `taking-over`: started normally while another engine holds the claim; it asks that
  engine to hand over and polls for the claim every 50 ms.
- `standby`: started with `EXCHANGE_STANDBY`; it never asks, it polls every 250 ms and
  takes the claim when the active engine's session ends (the process died, or lost its
  connection), so it is ready within a second or so of that.
- `active`: holds the claim; its engine actor runs, and the services that need the
  engine (demo listings, the catalog, the market-data feed, the bots) run with it.
- `handing-over`: another instance asked for the claim; the bots stop, the actor
  refuses new commands (503 with Retry-After), commits what is queued, and the claim is
  released. The new engine then loads exactly what was committed.
- `retired`: handed over; it keeps serving what needs no engine (history, klines, the
  web page) until the platform stops it, and never claims again.

An active engine that loses its claim another way (its connection dropped) halts, and
its actor's recovery claims again if the claim is still free, so a database outage
heals by itself; if another engine took it meanwhile, it stays halted (reported as
`standby`) and polls, taking over only if that engine dies in turn.

A normal start takes a free claim before the server starts serving, so a database that
cannot be loaded (corrupt state) stops the start with its message, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from enum import StrEnum

from exchange.engine.actor import EngineActor
from exchange.engine.engine import Engine
from exchange.persistence.claim import ClaimHeldError
from exchange.persistence.writer import Writer

log = logging.getLogger(__name__)

TAKEOVER_POLL = 0.05  # float-ok: seconds between claim attempts while the old engine hands over
STANDBY_POLL = 0.25  # float-ok: seconds between claim attempts of a standby


class Role(StrEnum):
    TAKING_OVER = "taking-over"
    STANDBY = "standby"
    ACTIVE = "active"
    HANDING_OVER = "handing-over"
    RETIRED = "retired"


class EngineSeat:
    """Claims the database for this instance's engine, runs it, and hands it over; see the module docstring."""

    def __init__(
        self,
        *,
        writer: Writer,
        actor: EngineActor,
        load: Callable[[], Awaitable[Engine]],
        services: Callable[[], AbstractAsyncContextManager[None]],
        standby: bool = False,
    ) -> None:
        self._writer = writer
        self._actor = actor
        self._load = load
        self._services = services
        self._standby = standby
        self._role = Role.STANDBY if standby else Role.TAKING_OVER
        self._handover = asyncio.Event()
        writer.on_handover = self._handover.set

    @property
    def role(self) -> Role:
        """This instance's role now (an active engine that lost its claim reports `standby`)."""
        if self._role is Role.ACTIVE and not self._writer.holds_claim:
            return Role.STANDBY
        return self._role

    @property
    def epoch(self) -> int | None:
        """The fencing epoch this instance's engine claimed, while it holds the claim."""
        return self._writer.epoch

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Take a free claim now (unless standby), serve the seat in the background, and let go on exit."""
        if not self._standby:
            with contextlib.suppress(ClaimHeldError):
                await self._writer.claim()
                try:
                    await self._actor.start(await self._load())
                except BaseException:
                    await self._writer.close()
                    raise
        task = asyncio.create_task(self._serve(), name="engine-seat")
        task.add_done_callback(_report)
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self._actor.stop()
            await self._writer.close()

    async def _serve(self) -> None:
        if not self._writer.holds_claim:
            await self._take_claim()
            try:
                await self._actor.start(await self._load())
            except Exception:
                log.exception("cannot take over the engine; releasing the claim")
                await self._writer.close()
                return
        self._role = Role.ACTIVE
        log.info("this instance is the engine (epoch %s)", self._writer.epoch)
        async with self._services():
            await self._handover.wait()
            self._role = Role.HANDING_OVER
            log.info("another instance asked for the engine: draining and handing over")
            await self._actor.stop()
        await self._writer.close()
        self._role = Role.RETIRED
        log.info("handed the engine over; serving reads until stopped")

    async def _take_claim(self) -> None:
        poll = STANDBY_POLL if self._standby else TAKEOVER_POLL
        while True:
            try:
                await self._writer.claim(wait=True, handover=not self._standby, poll=poll)
                return
            except Exception:
                log.warning("claiming the database failed; retrying", exc_info=True)
                await asyncio.sleep(1)


def _report(task: asyncio.Task[None]) -> None:
    """Log why the seat's task ended, if it failed (a failed start of the engine's services, say)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the engine seat failed", exc_info=task.exception())
