"""The hub: who is subscribed to what, each client's bounded outbox, and the flush that writes them.

Fan-out theory. A frame is encoded once per stream by whoever publishes it (the feed)
into one `Frame`: its ASGI `websocket.send` message and its bytes on the wire (an
unmasked server frame is the same bytes for every recipient). `publish` only appends
a reference to each subscriber's outbox and notes the client as due; it never awaits
and never touches a socket, so publishing costs the same whether a client is fast,
slow or gone, and the feed (and, behind the bus, the engine) never waits for anyone.

Writing. After the publisher yields, one flush callback walks the due clients, in
slices of at most `slice_seconds` so that a thousand sockets never stall the loop. A
client whose connection offers a `Sink` (`exchange.streams.protocol`: a socket without
per-message compression) gets everything queued since its last flush as one
`transport.write` of the joined frame bytes: one system call per client per flush
however many frames a batch of events made, and no task switch. A client without a
sink (another ASGI server, or a negotiated compression that makes its bytes its own),
and a sink whose socket is paused (its transport's buffer is over the high-water
mark), is drained by its writer task instead: ASGI sends one frame at a time, or the
joined bytes once the socket drains. Frames leave an outbox only in order, by either
path, so a client's frames are never reordered.

Bounds. An outbox is bounded in bytes (the sum of its frames' payloads,
`max_queued_bytes`). A client that stops reading makes its socket's buffer fill, its
transport pause, its outbox grow, and, once the bound is crossed, the hub marks it
overflowed, stops queueing for it and cancels its writer; the connection handler then
closes it with 1008 and a reason. So server memory per client is bounded by the outbox
bound plus the transport's buffer, whatever the client does, and nothing is ever
skipped silently in the middle of a stream: a client either gets every frame of its
streams, in order, or is disconnected and must resynchronize.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Protocol

from exchange.streams.names import Topic

Message = dict[str, Any]
SINK_EXTENSION = "exchange.sink"
"""The ASGI scope extension under which a server offers a connection's `Sink` (as `{"sink": sink}`)."""


def text_message(text: str) -> Message:
    """The ASGI message that sends `text` as one frame (shared by all recipients)."""
    return {"type": "websocket.send", "text": text}


def frame_header(size: int) -> bytes:
    """The header of a final, unmasked server text frame with `size` payload bytes (RFC 6455, 5.2)."""
    if size < 126:
        return bytes((0x81, size))
    if size < 1 << 16:
        return bytes((0x81, 126)) + size.to_bytes(2, "big")
    return bytes((0x81, 127)) + size.to_bytes(8, "big")


class Frame:
    """One text frame, shared by every recipient: its ASGI message and its bytes on the wire."""

    __slots__ = ("message", "raw", "size")

    def __init__(self, text: str) -> None:
        payload = text.encode()
        self.message = text_message(text)
        self.raw = frame_header(len(payload)) + payload
        self.size = len(payload)


class Sink(Protocol):
    """A connection's socket that takes whole frames as bytes (see `exchange.streams.protocol`)."""

    def can_write(self) -> bool:
        """True while the connection is open and its transport below its high-water mark."""
        ...

    def write_frames(self, data: bytes) -> None:
        """Write whole, already framed data frames."""
        ...

    async def wait_writable(self) -> bool:
        """Wait until the transport drains below its low-water mark; False once the connection is closing."""
        ...


class Client:
    """One connection's subscriptions and bounded outbox."""

    __slots__ = (
        "due",
        "max_queued_bytes",
        "outbox",
        "overflowed",
        "private",
        "queued_bytes",
        "sink",
        "topics",
        "wake",
        "writer",
    )

    def __init__(self, max_queued_bytes: int, sink: Sink | None = None) -> None:
        self.max_queued_bytes = max_queued_bytes
        self.sink = sink
        self.outbox: deque[Frame] = deque()
        self.queued_bytes = 0
        self.overflowed = False
        self.due = False
        self.wake = asyncio.Event()
        self.topics: set[Topic] = set()
        self.private: dict[str, tuple[int, str]] = {}
        """Private stream name -> (account, public key of the key that signed the subscription)."""
        self.writer: asyncio.Task[None] | None = None

    def offer(self, frame: Frame) -> bool:
        """Queue a frame, or mark the client overflowed (and stop its writer) if the outbox is full.

        True when the client just became due for a flush (it was not already).
        """
        if self.overflowed:
            return False
        size = frame.size
        if self.queued_bytes + size > self.max_queued_bytes:
            self.overflowed = True
            self.outbox.clear()
            self.queued_bytes = 0
            if self.writer is not None:
                self.writer.cancel()
            return False
        self.outbox.append(frame)
        self.queued_bytes += size
        if self.due:
            return False
        self.due = True
        return True

    def flush(self) -> None:
        """Write the outbox to the socket now if it takes it, else leave it to the writer task."""
        self.due = False
        if not self.outbox or self.overflowed:
            return
        if self.sink is not None and self.sink.can_write():
            self._write_joined(self.sink)
        else:
            self.wake.set()

    def _write_joined(self, sink: Sink) -> None:
        outbox = self.outbox
        data = outbox[0].raw if len(outbox) == 1 else b"".join([frame.raw for frame in outbox])
        outbox.clear()
        self.queued_bytes = 0
        sink.write_frames(data)

    async def write(self, send: Any) -> None:
        """Drain the outbox whenever the flush could not (the connection's writer task)."""
        outbox, sink = self.outbox, self.sink
        while True:
            await self.wake.wait()
            self.wake.clear()
            while outbox:
                if sink is not None:
                    if not await sink.wait_writable():
                        return
                    if outbox:
                        self._write_joined(sink)
                else:
                    frame = outbox.popleft()
                    self.queued_bytes -= frame.size
                    await send(frame.message)


class Hub:
    """Subscriptions by topic, publishing a shared frame to every subscriber, and the sliced flush."""

    def __init__(self, *, slice_seconds: float = 0.001) -> None:
        self._subscribers: dict[Topic, set[Client]] = {}
        self._due: deque[Client] = deque()
        self._flush_scheduled = False
        self._slice = slice_seconds
        self.longest_flush = 0.0

    def wants(self, topic: Topic) -> bool:
        """True when someone is subscribed to `topic` (encode nothing otherwise)."""
        return topic in self._subscribers

    def publish(self, topic: Topic, text: str) -> None:
        """Queue one encoded frame for every subscriber of `topic`, without waiting for any."""
        clients = self._subscribers.get(topic)
        if clients:
            frame = Frame(text)
            due = self._due
            for client in clients:
                if client.offer(frame):
                    due.append(client)
            self._schedule_flush()

    def send(self, client: Client, text: str) -> None:
        """Queue one frame for one client (a reply or an error), in order with its stream frames."""
        if client.offer(Frame(text)):
            self._due.append(client)
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._due and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Flush due clients for at most one slice; the rest go on in the next turn of the loop."""
        self._flush_scheduled = False
        due = self._due
        started = time.perf_counter()
        elapsed = 0.0
        while due:
            due.popleft().flush()
            elapsed = time.perf_counter() - started
            if elapsed >= self._slice:
                break
        self.longest_flush = max(self.longest_flush, elapsed)
        self._schedule_flush()

    def subscribe(self, client: Client, topic: Topic) -> None:
        """Add `topic` to the client's subscriptions (idempotent)."""
        self._subscribers.setdefault(topic, set()).add(client)
        client.topics.add(topic)

    def unsubscribe(self, client: Client, topic: Topic) -> None:
        """Remove `topic` from the client's subscriptions (idempotent)."""
        clients = self._subscribers.get(topic)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._subscribers[topic]
        client.topics.discard(topic)

    def drop(self, client: Client) -> None:
        """Forget every subscription of a closed client."""
        for topic in list(client.topics):
            self.unsubscribe(client, topic)

    def subscriber_count(self, topic: Topic) -> int:
        """How many clients are subscribed to `topic`."""
        return len(self._subscribers.get(topic, ()))
