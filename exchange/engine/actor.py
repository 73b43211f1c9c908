"""The engine actor: the one asyncio task that owns the engine, its inbox and the batch loop.

Theory of operation. Callers never touch the `Engine`; they put work in a bounded
inbox (`asyncio.Queue`) and await a future: a command record to apply (`submit`) or
a named query record to answer (`query`, see `exchange.engine.queries`). A full inbox,
a halted actor or one not running refuses at once with `EngineUnavailableError` (HTTP
503): no caller ever waits for room. The loop repeats:

1. take a batch: wait for one item, then everything already queued, up to `max_batch`;
2. apply each command of the batch with `engine.handle`: cancels first, then the rest,
   each group in arrival order (cancel priority: a market maker can always pull its
   quotes, however many orders are queued with them);
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
- Only the engine that holds the database's claim answers (`claimed()`, see
  `exchange.persistence.claim`): the writer's commit refuses without it, and a batch of
  queries alone is not answered once it is lost.
- A command whose data the database refuses harms nobody else. `commit` raises
  `CommitRefused` for a batch the database refused for its data (not for the
  connection); the actor then reloads the committed state and applies the batch's
  commands again one at a time, each committed alone. The one the database refuses
  again gets a `Rejected` event with the refusal's reason (and the engine is reloaded
  once more, without it); every other command is committed and answered as usual. The
  actor never halts for it, and the queue waits, it is not dropped.
- A command whose batch did not commit never reports success. If `commit` fails
  otherwise or takes longer than `database_timeout` (a database that stops answering
  without closing the connection), or `engine.handle` raises (a bug that may have left
  the engine half-changed), every caller of the batch and everything still queued gets
  `EngineUnavailableError`, the actor halts (new work is refused), and it retries
  `reload()` with exponential backoff (each attempt also bounded by the timeout).
  `reload` claims the database again if the failure cost the claim, and rebuilds the
  engine from it, so its success also proves the database is back; the actor swaps the
  reloaded engine in and resumes. The in-memory engine, which may hold the failed
  batch's changes, is thrown away. A batch whose commit did reach the database but
  whose acknowledgement was lost is in the reloaded engine: its callers got an error
  for something that happened, the one ambiguity no system can avoid, and never a
  success for something that did not.
- `stop()` refuses new work, lets the loop finish everything queued before it (the
  last batch is committed like any other), and ends the task. It is also how an
  engine hands over to another instance: drain, commit, then release the claim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from exchange.engine.commands import CancelAllOrders, CancelOrder, Command
from exchange.engine.engine import Engine
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.engine.events import Event, Rejected
from exchange.engine.queries import Query

log = logging.getLogger(__name__)


class EngineUnavailableError(ExchangeError):
    """Queue full, halted after a failed commit, or stopped: maps to HTTP 503 SERVICE_UNAVAILABLE."""


class CommitRefused(ExchangeError):
    """Raised by `commit` when the database refused a batch for its data; the connection is fine."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class _Submit:
    command: Command
    reply: asyncio.Future[list[Event]]
    enqueued: float = field(default_factory=time.perf_counter)  # float-ok: seconds


@dataclass(slots=True)
class _Query:
    query: Query
    reply: asyncio.Future[Any]


class _Stop:
    """Queued by `stop()`: the loop ends after the batch that holds it."""


_Item = _Submit | _Query | _Stop


def _cancels_first(submit: _Submit) -> bool:
    return not isinstance(submit.command, CancelOrder | CancelAllOrders)


class EngineActor:
    """Runs an `Engine` behind a bounded inbox with group commit; see the module docstring."""

    def __init__(
        self,
        *,
        commit: Callable[[Sequence[Sequence[Event]]], Awaitable[None]],
        publish: Callable[[Sequence[Event]], None],
        reload: Callable[[], Awaitable[Engine]],
        claimed: Callable[[], bool] = lambda: True,
        observe: Callable[[str, float], None] = lambda stage, seconds: None,
        queue_size: int = 10_000,
        max_batch: int = 1_000,
        retry_delay: float = 0.05,  # float-ok: seconds, not money
        max_retry_delay: float = 2.0,  # float-ok: seconds
        database_timeout: float = 10.0,  # float-ok: seconds
    ) -> None:
        self._engine = Engine()
        self._commit = commit
        self._publish = publish
        self._reload = reload
        self._claimed = claimed
        self._observe = observe
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

    async def start(self, engine: Engine) -> None:
        """Spawn the loop task around `engine` (committed state) and start accepting work."""
        assert self._task is None, "an actor starts once"
        self._engine = engine
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
        return await self.submitted(command)

    async def query(self, query: Query) -> Any:
        """Answer a named query at a point where everything the engine has computed is committed."""
        return await self.asked(query)

    def submitted(self, command: Command) -> asyncio.Future[list[Event]]:
        """Queue `command` (or raise EngineUnavailableError at once); the future holds its committed events."""
        reply: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        self._enqueue(_Submit(command, reply))
        return reply

    def asked(self, query: Query) -> asyncio.Future[Any]:
        """Queue `query` (or raise EngineUnavailableError at once); the future holds its answer."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(_Query(query, reply))
        return reply

    def _enqueue(self, item: _Item) -> None:
        if not self._accepting:
            raise EngineUnavailableError("the engine is not running on this instance")
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
        """Apply (cancels first), commit, then release replies, events and query answers, in that order."""
        submits = sorted((item for item in batch if isinstance(item, _Submit)), key=_cancels_first)
        if submits:
            taken = time.perf_counter()
            for submit in submits:
                self._observe("queue", taken - submit.enqueued)
            results = [self._engine.handle(submit.command) for submit in submits]
            self._observe("engine", time.perf_counter() - taken)
            try:
                await self._commit_bounded(results)
            except CommitRefused as refused:
                log.warning("the database refused a batch (%s); applying its commands one at a time", refused)
                await self._one_by_one(submits)
            else:
                self._release(submits, results)
        queries = [item for item in batch if isinstance(item, _Query)]
        if queries and not self._claimed():
            raise EngineUnavailableError("this engine no longer holds the database's claim")
        for query in queries:
            if not query.reply.done():
                try:
                    query.reply.set_result(self._engine.answer(query.query))
                except Exception as error:
                    query.reply.set_exception(error)

    async def _one_by_one(self, submits: list[_Submit]) -> None:
        """Apply and commit each command alone on the committed state; reject the ones the database refuses."""
        self._engine = await self._reload_bounded()
        for submit in submits:
            events = self._engine.handle(submit.command)
            try:
                await self._commit_bounded([events])
            except CommitRefused as refused:
                log.warning("the database refused %r: %s", submit.command, refused)
                self._engine = await self._reload_bounded()
                events = [Rejected(command=submit.command, reason=refused.reason, message=refused.message)]
            self._release([submit], [events])

    def _release(self, submits: list[_Submit], results: list[list[Event]]) -> None:
        """Resolve the callers of committed commands, then publish their events in order."""
        for submit, events in zip(submits, results, strict=True):
            if not submit.reply.done():
                submit.reply.set_result(events)
        try:
            self._publish([event for events in results for event in events])
        except Exception:
            log.exception("publishing committed events failed")

    async def _commit_bounded(self, results: Sequence[Sequence[Event]]) -> None:
        async with asyncio.timeout(self._database_timeout):
            await self._commit(results)

    async def _reload_bounded(self) -> Engine:
        async with asyncio.timeout(self._database_timeout):
            return await self._reload()

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
                engine = await self._reload_bounded()
            except Exception:
                log.warning("reloading the engine failed; retrying in %.2fs", delay, exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_delay)
            else:
                break
        self._engine = engine
        self._halted = False
        log.info("engine reloaded from the database; accepting commands again")
