"""The engine and its gateways over Redis: `exchange serve --role engine` and `--role gateway`.

Four flows, each on the Redis structure that fits it (redis-py's asyncio client, hiredis):

- **Inbox** (gateways -> engine): the Stream `exchange:inbox`, read by the engine through
  the consumer group `engine` with NOACK. A Stream and not pub/sub, because a command
  sent while no engine reads (a standby taking over, an engine restarting) waits
  instead of vanishing, and the group's last-delivered id lives in Redis, so whichever
  engine holds the database's claim resumes right after the last entry any engine took.
  One XREADGROUP takes up to `BATCH` entries: the engine pays a round trip per batch,
  not per order, and a gateway sends everything its requests queued in one event-loop
  turn as one pipeline.
  *At most once*: the group delivers an entry once (`>`), and with NOACK nothing is
  pending, so nothing can ever be delivered again. A gateway that dies after XADD
  leaves a command that runs once and whose reply nobody reads; an engine that dies
  after reading takes its entries with it, and the new engine's state is whatever of
  them was committed. No engine-side memory of command ids is needed.
  *Stale entries*: an entry older than the gateways' timeout when the engine reads it is
  dropped unexecuted (its gateway has answered 503 already), measured on Redis's clock
  (entry ids are Redis milliseconds; the engine reads Redis's TIME when it starts
  consuming), so a backlog left while no engine ran never executes late.
- **Replies** (engine -> the asking gateway): pub/sub on `exchange:replies:<gateway>`.
  Only the request waiting for it wants a reply; if that gateway is gone nobody should
  get it, and storing it would be garbage. One message per gateway and batch carries
  all of its replies.
- **Events** (engine -> every gateway): the Stream `exchange:events`, capped near
  `EVENTS_KEPT` entries, one entry per committed batch, numbered `n` = 1, 2, ... within
  a `run` (random, new for each engine start and each reload from the database, after
  which committed-but-unpublished batches may exist). A Stream and not pub/sub, because a
  gateway that reconnects reads on from the last id it saw: a short outage of Redis or
  of the gateway loses nothing. *Gap rule*: an entry that is not (same run, n + 1) — a
  new run, entries trimmed before the gateway read them, batches the engine dropped
  while Redis was away — ends every subscription of the gateway's local bus with
  `SubscriptionOverflow`, and the feed re-seeds from a snapshot (`GetBooks`), as ccxt
  does with an order book; a depth diff is never missed or repeated unnoticed.
- **Revoked keys** (a gateway -> every gateway): the Stream `exchange:revoked`, written with
  each revocation (`exchange.api.shared`, where the reasons are) and read by every
  gateway's relay in the same XREAD as the events, so the websocket subscriptions a
  revoked key signed end before any event committed after its revoke was answered is
  relayed.

Durability across processes: the actor calls `publish` and resolves replies only after
a batch's commit, and the engine link sends nothing else, so everything a gateway
answers or streams was committed.

Liveness and failure. While its actor accepts commands the engine refreshes the key
`exchange:engine` (it expires after `ALIVE_MS`); a gateway that does not see it refuses
at once (503 with Retry-After), and a request without a reply within the timeout is a
503 too. When Redis is down gateways answer 503 the same way; the engine keeps its
unpublished batches in order (the oldest dropped past `EVENTS_KEPT`, which the gap rule
then catches) and pushes them once Redis is back; every loop here reconnects by itself.
An engine killed outright is replaced by its standby (`exchange.seat`), which consumes
the inbox where the group stands.

Trust: Redis is the deployment's private network. Gateways verified each signature;
the engine executes what the inbox holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Protocol, cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from redis.typing import KeyT, StreamIdT

from exchange.api.shared import RedisRevocations
from exchange.engine import codec
from exchange.engine.actor import EngineActor, EngineUnavailableError
from exchange.engine.commands import Command
from exchange.engine.events import Event
from exchange.engine.queries import Query
from exchange.streams.bus import InMemoryBus
from exchange.transport.batch import TurnBatch

log = logging.getLogger(__name__)

INBOX = "exchange:inbox"
EVENTS = "exchange:events"
ENGINE_KEY = "exchange:engine"
REVOKED = RedisRevocations.ANNOUNCED
GROUP = "engine"
BATCH = 1_000
INBOX_KEPT = 100_000
EVENTS_KEPT = 100_000
ALIVE_MS = 2_000
BEAT = 0.5  # float-ok: seconds between the engine's liveness refreshes
WATCH = 0.25  # float-ok: seconds between a gateway's liveness checks
RETRY = 0.5  # float-ok: seconds before a loop retries after a Redis error
EXPIRY = 0.05  # float-ok: seconds between a gateway's sweeps for requests past their timeout

Entries = list[tuple[bytes, dict[bytes, bytes]]]
Read = list[tuple[bytes, Entries]]
"""What XRANGE and XREAD answer (this client does not decode responses)."""

OK, UNAVAILABLE, MISSING, FAILED = "ok", "unavailable", "missing", "failed"
"""A reply's status: the answer, EngineUnavailableError, KeyError (an unknown symbol), any other failure."""

_REPLIES = msgspec.json.Decoder(list[tuple[int, str, msgspec.Raw]])
"""One message of replies: `[request, status, answer or error message]` each, the answers left for their callers."""
_READ_REQUEST = codec.reader(Command | Query)
_READ_EVENTS = codec.reader(list[Event])
_READ_ANSWER = codec.reader(Any)


def connect(url: str) -> Redis:
    """A client for `url` (redis:// or rediss://), with bounded connect and read times."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Redis]:
    """`connect(url)`, closed on exit."""
    redis = connect(url)
    try:
        yield redis
    finally:
        await redis.aclose()


def _replies(gateway: str) -> str:
    return f"exchange:replies:{gateway}"


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- the engine's end --------------------------------------------------------------


class EngineLink:
    """Feeds the inbox to the engine actor and sends back its replies and committed events."""

    def __init__(self, redis: Redis, *, timeout: float) -> None:
        self._redis = redis
        self._timeout_ms = int(timeout * 1000)
        self._run = secrets.token_hex(8)
        self._n = 0
        self._events: deque[tuple[str, int, bytes]] = deque()
        self._encoded: dict[int, bytes] = {}
        """The JSON of each event just published, by `id`: its command's reply reuses it."""
        self._replies: dict[str, list[object]] = {}
        self._wake = asyncio.Event()
        self.dropped = 0
        """Committed batches never published (Redis was away too long): gateways resync past them."""

    def publish(self, events: Sequence[Event]) -> None:
        """The actor's `publish`: number a committed batch and queue it for the event stream."""
        if not events:
            return
        self._n += 1
        if len(self._events) >= EVENTS_KEPT:
            self._events.popleft()
            self.dropped += 1
        pieces = [codec.encode(event) for event in events]
        self._encoded.update(zip(map(id, events), pieces, strict=True))
        self._events.append((self._run, self._n, codec.join(pieces)))
        self._wake.set()

    def new_run(self) -> None:
        """Start a new numbering: the engine was reloaded, so gateways must resync."""
        self._run, self._n = secrets.token_hex(8), 0

    @asynccontextmanager
    async def serving(self, actor: EngineActor) -> AsyncIterator[None]:
        """Feed the inbox to `actor`, push replies and events, and beat; on exit drain it and push the rest."""
        pushing = asyncio.create_task(self._push(), name="link-push")
        others = [asyncio.create_task(self._consume(actor)), asyncio.create_task(self._beat(actor))]
        try:
            yield
        finally:
            await _cancel(others)
            await actor.stop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    while self._events or self._replies:
                        await asyncio.sleep(0.01)
            await _cancel([pushing])
            with contextlib.suppress(RedisError):
                if await self._redis.get(ENGINE_KEY) == self._run.encode():  # not a successor's
                    await self._redis.delete(ENGINE_KEY)

    async def _consume(self, actor: EngineActor) -> None:
        consumer = secrets.token_hex(8)
        while True:
            try:
                with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
                    await self._redis.xgroup_create(INBOX, GROUP, id="0", mkstream=True)
                seconds, micros = await self._redis.time()
                offset_ms = seconds * 1000 + micros // 1000 - time.time_ns() // 1_000_000
                while True:
                    while actor.queue_depth >= BATCH:
                        await asyncio.sleep(0.001)
                    answer = cast(
                        Read,
                        await self._redis.xreadgroup(
                            GROUP, consumer, {INBOX: ">"}, count=BATCH, block=1_000, noack=True
                        ),
                    )
                    oldest = time.time_ns() // 1_000_000 + offset_ms - self._timeout_ms
                    for _, entries in answer:
                        for entry_id, fields in entries:
                            self._take(actor, entry_id, fields, oldest)
            except RedisError as error:  # Redis away, or restarted without the group (NOGROUP)
                log.warning("reading the engine inbox failed (%s); retrying", error)
                await asyncio.sleep(RETRY)

    def _take(self, actor: EngineActor, entry_id: bytes, fields: dict[bytes, bytes], oldest_ms: int) -> None:
        """Hand one inbox entry to the actor; its reply is queued when the future resolves."""
        try:
            gateway, request = fields[b"g"].decode(), int(fields[b"i"])
        except (KeyError, ValueError, UnicodeDecodeError):
            log.error("dropped a malformed inbox entry %s", entry_id)
            return
        if int(entry_id.split(b"-")[0]) < oldest_ms:
            return
        try:
            item = _READ_REQUEST(fields[b"b"])
            if isinstance(item, Command):
                future: asyncio.Future[Any] = actor.submitted(item)
            else:
                future = actor.asked(item)
        except Exception as error:
            self._answer(gateway, request, error)
            return
        future.add_done_callback(partial(self._done, gateway, request))

    def _done(self, gateway: str, request: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._answer(gateway, request, EngineUnavailableError("the engine stopped"))
            return
        error = future.exception()
        self._answer(gateway, request, error if error is not None else future.result())

    def _answer(self, gateway: str, request: int, outcome: object) -> None:
        if isinstance(outcome, EngineUnavailableError):
            reply: list[object] = [request, UNAVAILABLE, str(outcome)]
        elif isinstance(outcome, KeyError):
            reply = [request, MISSING, str(outcome)]
        elif isinstance(outcome, BaseException):
            log.error("a request from gateway %s failed", gateway, exc_info=outcome)
            reply = [request, FAILED, f"{type(outcome).__name__}: {outcome}"]
        elif isinstance(outcome, list):  # a command's committed events, encoded once for the stream already
            get, encode = self._encoded.get, codec.encode
            reply = [request, OK, codec.Raw(codec.join([get(id(e)) or encode(e) for e in outcome]))]
        else:
            reply = [request, OK, codec.Raw(codec.encode(outcome))]
        self._replies.setdefault(gateway, []).append(reply)
        self._wake.set()

    async def _push(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            events = list(self._events)
            replies, self._replies = self._replies, {}
            self._encoded.clear()
            # The payloads (a batch's events, a gateway's replies: up to megabytes) go as memoryviews:
            # hiredis's command packer copies bytes at ~3 ms per MB, redis-py's own packer sends a
            # memoryview as it is.
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for run, n, raw in events:
                        fields = {"run": run, "n": n, "e": memoryview(raw)}
                        pipe.xadd(EVENTS, fields, maxlen=EVENTS_KEPT, approximate=True)  # type: ignore[arg-type]
                    for gateway, answers in replies.items():
                        pipe.publish(_replies(gateway), memoryview(msgspec.json.encode(answers)))
                    await pipe.execute()
            except RedisError as error:  # the replies are lost (their gateways time out); the events wait
                log.warning("publishing to Redis failed (%s); retrying", error)
                await asyncio.sleep(RETRY)
                self._wake.set()
                continue
            if events:
                while self._events and self._events.popleft() is not events[-1]:
                    pass

    async def _beat(self, actor: EngineActor) -> None:
        while True:
            try:
                if actor.ready:
                    await self._redis.set(ENGINE_KEY, self._run, px=ALIVE_MS)
            except RedisError as error:
                log.warning("refreshing the engine's liveness failed (%s)", error)
            await asyncio.sleep(BEAT)


# -- a gateway's end ---------------------------------------------------------------


class RemoteEngine:
    """The engine as a gateway reaches it: `submit` and `query` over Redis (an `EnginePort`)."""

    def __init__(self, redis: Redis, *, timeout: float, batch: TurnBatch | None = None) -> None:
        self._redis = redis
        self._timeout = timeout
        self._batch = batch or TurnBatch(redis)
        """Where commands are sent: the gateway's shared batch, so they ride with its replay checks."""
        self.gateway = secrets.token_hex(8)
        self._next = 0
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._deadlines: deque[tuple[float, int]] = deque()
        """(loop time, request) in the order requests were made: one timer for all of them, not one each."""
        self._outbox: list[tuple[int, bytes]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._alive = False
        self._listening = asyncio.Event()
        """Set once Redis confirmed the subscription to this gateway's replies (a reply published before is lost)."""

    @property
    def ready(self) -> bool:
        """True while Redis answers, this gateway hears its replies and an engine refreshes its liveness key."""
        return self._alive and self._listening.is_set()

    @property
    def halted(self) -> bool:
        """A gateway cannot tell a halted engine from a missing one: both just stop refreshing their key."""
        return False

    async def submit(self, command: Command) -> list[Event]:
        """The command's events once the engine committed them; EngineUnavailableError otherwise."""
        events: list[Event] = await self._call(command, _READ_EVENTS)
        return events

    async def query(self, query: Query) -> Any:
        """The engine's answer at a committed point; EngineUnavailableError otherwise."""
        return await self._call(query, _READ_ANSWER)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Listen for replies, expire the ones overdue and watch the engine's liveness while inside."""
        tasks = [
            asyncio.create_task(self._listen(), name="gateway-replies"),
            asyncio.create_task(self._expire()),
            asyncio.create_task(self._watch()),
        ]
        try:
            with contextlib.suppress(TimeoutError):  # else commands get 503 until Redis confirms
                await asyncio.wait_for(self._listening.wait(), RETRY)
            yield
        finally:
            await _cancel([*tasks, *self._sending])

    async def _call(self, item: Command | Query, read: codec.Read) -> Any:
        """Send `item`; its answer, decoded by `read`, once the engine replied."""
        if not self.ready:
            raise EngineUnavailableError("no engine is answering")
        self._next += 1
        request = self._next
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting[request] = future
        self._deadlines.append((loop.time() + self._timeout, request))
        self._outbox.append((request, codec.encode(item)))
        if len(self._outbox) == 1:
            task = asyncio.create_task(self._send())
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        try:
            raw = await future
        finally:
            del self._waiting[request]
        return read(raw)

    async def _send(self) -> None:
        """XADD everything queued in this event-loop turn, in the batch's next pipeline.

        One task per turn awaits the turn's XADDs, rather than each call queueing its own
        with a callback to fail it: that scheduled a callback per command and cost the
        `bench redis` producer ~6 µs more per order (12,000 against 12,800 orders/s)."""
        outbox, self._outbox = self._outbox, []
        added = [
            self._batch.call("XADD", INBOX, "MAXLEN", "~", INBOX_KEPT, "*", "g", self.gateway, "i", request, "b", body)
            for request, body in outbox
        ]
        for (request, _), xadd in zip(outbox, added, strict=True):
            try:
                await xadd
            except RedisError as error:
                future = self._waiting.get(request)
                if future is not None and not future.done():
                    future.set_exception(EngineUnavailableError(f"Redis is unreachable: {error}"))

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(_replies(self.gateway))
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._resolve(message["data"])
                        elif message["type"] == "subscribe":
                            self._listening.set()
            except RedisError as error:
                log.warning("listening for the engine's replies failed (%s); retrying", error)
                self._listening.clear()
                self._alive = False
                await asyncio.sleep(RETRY)

    def _resolve(self, raw: bytes) -> None:
        """Hand each reply of a message to its request: an answer's bytes (its caller decodes them) or an error."""
        for request, status, data in _REPLIES.decode(raw):
            future = self._waiting.get(request)
            if future is None or future.done():
                continue
            if status == OK:
                future.set_result(data)
                continue
            message = msgspec.json.decode(data)
            if status == UNAVAILABLE:
                future.set_exception(EngineUnavailableError(message))
            elif status == MISSING:
                future.set_exception(KeyError(message))
            else:
                future.set_exception(RuntimeError(f"the engine failed: {message}"))

    async def _expire(self) -> None:
        """Fail every request still waiting at its deadline with EngineUnavailableError."""
        loop = asyncio.get_running_loop()
        deadlines, waiting = self._deadlines, self._waiting
        while True:
            await asyncio.sleep(EXPIRY)
            now = loop.time()
            while deadlines:
                deadline, request = deadlines[0]
                future = waiting.get(request)
                if future is not None and not future.done() and deadline > now:
                    break
                deadlines.popleft()
                if future is not None and not future.done():
                    future.set_exception(EngineUnavailableError("the engine did not answer in time"))

    async def _watch(self) -> None:
        while True:
            try:
                self._alive = bool(await self._redis.exists(ENGINE_KEY))
            except RedisError:
                self._alive = False
            await asyncio.sleep(WATCH)


class KeyRevocations(Protocol):
    """What a gateway's relay tells its streams about revoked keys (`exchange.streams.server.Streams`)."""

    def key_revoked(self, public_key: str) -> None:
        """End the subscriptions `public_key` signed."""
        ...

    def recheck_keys(self) -> None:
        """Look up again every key that signed a live subscription (announcements may have been missed)."""
        ...


class EventRelay:
    """Reads the engine's event stream, in order, into a gateway's local bus; a gap ends its subscriptions.

    It reads the revoked keys' announcements (`exchange.api.shared`) in the same XREAD, and
    hands those of each read to `revocations` before the events of that read; after it
    was cut off from Redis (and once at the start), it asks for a recheck of the keys.
    """

    def __init__(self, redis: Redis, bus: InMemoryBus, revocations: KeyRevocations) -> None:
        self._redis = redis
        self._bus = bus
        self._revocations = revocations
        self.gaps = 0

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Relay while inside."""
        task = asyncio.create_task(self._relay(), name="gateway-events")
        try:
            yield
        finally:
            await _cancel([task])

    async def _relay(self) -> None:
        positions: dict[KeyT, StreamIdT] = {}
        last: tuple[bytes, int] | None = None
        cut_off = True
        while True:
            try:
                if not positions:  # start after the newest entries: the feed seeds from a snapshot
                    newest = cast(Entries, await self._redis.xrevrange(EVENTS, count=1))
                    last = (newest[0][1][b"run"], int(newest[0][1][b"n"])) if newest else None
                    announced = cast(Entries, await self._redis.xrevrange(REVOKED, count=1))
                    positions = {
                        REVOKED: announced[0][0] if announced else b"0-0",
                        EVENTS: newest[0][0] if newest else b"0-0",
                    }
                answer = dict(cast(Read, await self._redis.xread(positions, count=BATCH, block=1_000)))
                if cut_off:
                    cut_off = False
                    self._revocations.recheck_keys()
                for entry_id, fields in answer.get(REVOKED.encode(), ()):
                    positions[REVOKED] = entry_id
                    self._revocations.key_revoked(fields[b"k"].decode())
                for entry_id, fields in answer.get(EVENTS.encode(), ()):
                    run, n = fields[b"run"], int(fields[b"n"])
                    if last is not None and (run, n) != (last[0], last[1] + 1):
                        log.warning("the event stream has a gap; the feed resyncs from a snapshot")
                        self.gaps += 1
                        self._bus.interrupt()
                    last, positions[EVENTS] = (run, n), entry_id
                    self._bus.publish(_READ_EVENTS(fields[b"e"]))
            except RedisError as error:
                log.warning("reading the engine's events failed (%s); retrying", error)
                cut_off = True
                await asyncio.sleep(RETRY)
