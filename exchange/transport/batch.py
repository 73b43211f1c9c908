"""One Redis pipeline at a time for all of a gateway's requests: `TurnBatch`.

A signed request on a gateway needs Redis more than once (the revocation mark, its
replay check, its command's XADD to the engine inbox), and a busy gateway has hundreds
of requests in flight. Each redis-py call on its own costs a pool checkout, a retry
wrapper, a socket write, a read and a wakeup, several times what Redis spends on the
command; so the shared state (`exchange.api.shared`) and `RemoteEngine` queue their
commands here instead, and the batch sends everything queued as ONE pipeline (no
transaction: each command stands alone), then hands each caller its own reply.

- At most one pipeline is in flight. Commands queued meanwhile go in the next one, sent as
  soon as the previous is answered and its callers have run: the busier the gateway,
  the fuller each pipeline and the fewer round trips per request. Idle, a command goes out
  on the next turn of the event loop, with whatever else that turn queued.
- `read` of a command that is queued and not yet sent shares that command's reply (the
  revocation mark is read once per pipeline, however many requests wait on it); a read
  never gets a reply to a command sent before it was queued, so what it returns is
  Redis's state after the read was asked for.
- Nothing is retried: a pipeline may carry inbox XADDs, which must run at most once. A
  pipeline that fails (Redis refused, dropped or did not answer within the client's
  socket timeout) fails each of its commands with that `RedisError`; a command Redis
  refuses (an error reply) fails only its own caller. Either way the caller decides
  (a 503 for a request). The client's pool replaces a connection Redis closed before it
  is used again, so the batch resumes by itself when Redis is back.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

Command = tuple[str | bytes | int, ...]


class TurnBatch:
    """Redis commands from any caller, sent together, one pipeline in flight at a time (module docstring)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queued: list[tuple[Command, asyncio.Future[Any]]] = []
        self._reads: dict[Command, asyncio.Future[Any]] = {}
        self._sending: asyncio.Task[None] | None = None
        self.pipelines = 0
        """Pipelines sent so far (tests and benchmarks read it)."""

    def call(self, *command: str | bytes | int) -> asyncio.Future[Any]:
        """Queue `command` now; the future is its reply, or the `RedisError` that failed it."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieved)
        self._queued.append((command, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_all(), name="redis-batch")
        return future

    def read(self, *command: str | bytes | int) -> asyncio.Future[Any]:
        """Queue a read-only `command` now, or join the same command queued and not yet sent; its reply."""
        shared = self._reads.get(command)
        if shared is None:
            shared = self._reads[command] = self.call(*command)
        mine: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        mine.add_done_callback(_retrieved)
        shared.add_done_callback(partial(_copy, mine))
        return mine

    async def stop(self) -> None:
        """Cancel the pipeline in flight and what is queued (their callers get CancelledError)."""
        if self._sending is not None:
            self._sending.cancel()
            await asyncio.gather(self._sending, return_exceptions=True)

    async def _send_all(self) -> None:
        try:
            while self._queued:
                queued, self._queued = self._queued, []
                self._reads.clear()
                await self._send(queued)
                await asyncio.sleep(0)  # the callers just answered run first, and queue their next commands
        finally:
            self._sending = None
            for _, future in self._queued:  # only when cancelled: the gateway is stopping
                future.cancel()
            self._queued.clear()

    async def _send(self, queued: list[tuple[Command, asyncio.Future[Any]]]) -> None:
        self.pipelines += 1
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command, _ in queued:
                    pipe.execute_command(*command)
                replies: list[Any] = await pipe.execute(raise_on_error=False)
        except RedisError as error:
            replies = [error] * len(queued)
        except BaseException:
            for _, future in queued:
                future.cancel()
            raise
        for (_, future), reply in zip(queued, replies, strict=True):
            if future.done():  # its caller gave up (cancelled)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen: a caller may leave a reply unawaited (its request was refused for another reason)."""
    if not future.cancelled():
        future.exception()


def _copy(mine: asyncio.Future[Any], shared: asyncio.Future[Any]) -> None:
    """Hand a shared read's outcome to one of its callers (each may give up on its own)."""
    if mine.done():
        return
    if shared.cancelled():
        mine.cancel()
    elif (error := shared.exception()) is not None:
        mine.set_exception(error)
    else:
        mine.set_result(shared.result())
