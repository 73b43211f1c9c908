"""The engine actor: the one asyncio task that owns the engine, its inbox and the batch loop.

Theory of operation. Callers never touch the `Engine`; they put work in a bounded
inbox (`asyncio.Queue`) and await a future. A full inbox, a halted actor or a stopped
one refuses at once with `EngineUnavailableError` (HTTP 503): no caller ever waits
for room. The loop repeats:

1. take a batch: wait for one item, then everything already queued, up to `max_batch`;
2. apply each command of the batch with `engine.handle`, in arrival order;
3. `await commit(results)`: the writer stores the whole batch in ONE transaction;
4. only then resolve each caller's future with its events, `publish` the batch's
   events in order, and answer the batch's queries.

Invariants.

- Nothing leaves the actor before it is committed: replies, published events and
  query answers all come after step 3. A query is answered after the commit of the
  batch it arrived in, when the engine holds exactly the committed state, so no read
  ever sees a computed-but-uncommitted change. Pipelining (computing batch N+1 while
  N commits) is deliberately not done: group commit already makes batches grow with
  the load, and without it the engine is committed state whenever the loop is not in
  steps 2-3, which keeps queries and recovery trivially correct.
- A command whose batch did not commit never reports success. If `commit` raises or
  takes longer than `database_timeout` (a database that stops answering without
  closing the connection), or `engine.handle` raises (a bug that may have left the
  engine half-changed), every caller of the batch and everything still queued gets
  `EngineUnavailableError`, the actor halts (new work is refused), and it retries
  `reload()` with exponential backoff (each attempt also bounded by the timeout).
  `reload` rebuilds the engine from the database, so its success also proves the
  database is back; the actor swaps the reloaded engine in and resumes. The
  in-memory engine, which may hold the failed batch's changes, is thrown away. A batch
  whose commit did reach the database but whose acknowledgement was lost is in the
  reloaded engine: its callers got an error for something that happened, the one
  ambiguity no system can avoid, and never a success for something that did not.
- `stop()` refuses new work, lets the loop finish everything queued before it (the
  last batch is committed like any other), and ends the task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from exchange.engine.commands import Command
from exchange.engine.engine import Engine
from exchange.engine.events import Event

T = TypeVar("T")

log = logging.getLogger(__name__)


class EngineUnavailableError(Exception):
    """Queue full, halted after a failed commit, or stopped: maps to HTTP 503 SERVICE_UNAVAILABLE."""


@dataclass(slots=True)
class _Submit:
    command: Command
    reply: asyncio.Future[list[Event]]


@dataclass(slots=True)
class _Query:
    read: Callable[[Engine], Any]
    reply: asyncio.Future[Any]


class _Stop:
    """Queued by `stop()`: the loop ends after the batch that holds it."""


_Item = _Submit | _Query | _Stop


class EngineActor:
    """Runs an `Engine` behind a bounded inbox with group commit; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        commit: Callable[[Sequence[Sequence[Event]]], Awaitable[None]],
        publish: Callable[[Sequence[Event]], None],
        reload: Callable[[], Awaitable[Engine]],
        queue_size: int = 10_000,
        max_batch: int = 1_000,
        retry_delay: float = 0.05,  # float-ok: seconds, not money
        max_retry_delay: float = 2.0,  # float-ok: seconds
        database_timeout: float = 10.0,  # float-ok: seconds
    ) -> None:
        self._engine = engine
        self._commit = commit
        self._publish = publish
        self._reload = reload
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue(queue_size)
        self._max_batch = max_batch
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._database_timeout = database_timeout
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self._halted = False

    @property
    def halted(self) -> bool:
        """True from a failed batch until the engine is reloaded from the database."""
        return self._halted

    @property
    def ready(self) -> bool:
        """True when submissions are accepted (started, not stopped, not halted)."""
        return self._accepting and not self._halted

    @property
    def queue_depth(self) -> int:
        """Items waiting in the inbox."""
        return self._inbox.qsize()

    async def start(self) -> None:
        """Spawn the loop task and start accepting work."""
        assert self._task is None, "an actor starts once"
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="engine-actor")

    async def stop(self) -> None:
        """Refuse new work, finish and commit everything queued, and end the loop task."""
        if self._task is None or not self._accepting:
            return
        self._accepting = False
        if self._halted:
            self._task.cancel()
        else:
            await self._inbox.put(_Stop())
        await asyncio.wait([self._task])

    async def submit(self, command: Command) -> list[Event]:
        """Return the command's events once they are committed; raise EngineUnavailableError otherwise."""
        reply: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._enqueue(_Submit(command, reply))
        return await reply

    async def query(self, read: Callable[[Engine], T]) -> T:
        """Run `read` against the engine at a point where everything it has computed is committed."""
        reply: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._enqueue(_Query(read, reply))
        return await reply

    def _enqueue(self, item: _Item) -> None:
        if not self._accepting:
            raise EngineUnavailableError("the engine is not running")
        if self._halted:
            raise EngineUnavailableError("the engine is recovering from a failed database commit")
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            raise EngineUnavailableError("the engine inbox is full") from None

    async def _run(self) -> None:
        while True:
            batch = await self._take_batch()
            try:
                await self._process(batch)
            except Exception as error:
                log.exception("engine batch failed; halting until the database state is reloaded")
                self._halted = True
                self._fail(batch, error)
                self._fail(self._drain(), error)
                if not self._accepting:
                    return
                await self._recover()
                continue
            if isinstance(batch[-1], _Stop):
                return

    async def _take_batch(self) -> list[_Item]:
        batch = [await self._inbox.get()]
        while len(batch) < self._max_batch and not isinstance(batch[-1], _Stop):
            try:
                batch.append(self._inbox.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _process(self, batch: list[_Item]) -> None:
        """Apply, commit, then release replies, events and query answers, in that order."""
        submits = [item for item in batch if isinstance(item, _Submit)]
        results = [self._engine.handle(submit.command) for submit in submits]
        if submits:
            async with asyncio.timeout(self._database_timeout):
                await self._commit(results)
        for submit, events in zip(submits, results, strict=True):
            if not submit.reply.done():
                submit.reply.set_result(events)
        if submits:
            try:
                self._publish([event for events in results for event in events])
            except Exception:
                log.exception("publishing committed events failed")
        for query in batch:
            if isinstance(query, _Query) and not query.reply.done():
                try:
                    query.reply.set_result(query.read(self._engine))
                except Exception as error:
                    query.reply.set_exception(error)

    def _drain(self) -> list[_Item]:
        items: list[_Item] = []
        while not self._inbox.empty():
            items.append(self._inbox.get_nowait())
        return items

    @staticmethod
    def _fail(items: list[_Item], cause: Exception) -> None:
        for item in items:
            if not isinstance(item, _Stop) and not item.reply.done():
                failure = EngineUnavailableError("the engine halted: the batch was not committed")
                failure.__cause__ = cause
                item.reply.set_exception(failure)

    async def _recover(self) -> None:
        """Reload the engine from the database, retrying with backoff, then resume."""
        delay = self._retry_delay
        while True:
            try:
                async with asyncio.timeout(self._database_timeout):
                    engine = await self._reload()
            except Exception:
                log.warning("reloading the engine failed; retrying in %.2fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)
            else:
                break
        self._engine = engine
        self._halted = False
        log.info("engine reloaded from the database; accepting commands again")
