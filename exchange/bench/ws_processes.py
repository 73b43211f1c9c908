"""The processes `exchange bench ws` starts: the websocket clients, and the servers they connect to.

Each runs as `python -c "from exchange.bench.ws_processes import ...; ..."` and talks
to the benchmark (`exchange.bench.ws`) only by lines on stdin and stdout, one JSON
answer per request line, so the code that gathers and prints the figures never shares
a process (or a core's time) with what it measures. Every one of them first raises its
open-file limit to the hard limit: a thousand sockets need it.

The clients' process (`run_clients`): minimal websocket clients on asyncio protocols
that count frames and bytes, answer pings, and decode only the last frame of each read
to sample the delivery lag (receive time minus the frame's `E`). The same process
drives the orders of the streamed market (`Fleet.drive`), so it knows how far behind
its clients are. Its requests: `connect` (a port and a count of clients), `measure`
(for some seconds, driving orders or not, recording the frames one client receives or
not) and `close`.

The servers:

- `serve_probed`: the exchange as `exchange serve` runs it (the app under uvicorn with
  `StreamProtocol`, the default asyncio loop), with a probe task that measures the
  event loop's longest stall (how late a 1 ms sleep wakes up) both in wall time and in
  the loop thread's CPU time (the difference is time the process was descheduled:
  clients, database and server share the cores; the `LoopMonitor` of
  `exchange.observability`), and GC timing beside it. SIGUSR1 prints the figures since
  the previous report.
- `serve_exchange`: one process of the split form (engine or gateway, as its
  environment says), as `exchange serve` runs it.
- `serve_bare`: the ceiling, a bare `websockets` server that broadcasts recorded frames.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import random
import resource
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from exchange.api.auth import KeyPair
from exchange.bench.api import Connection
from exchange.observability import LoopMonitor
from exchange.protocol.endpoints import ORDER_EXECUTE

SYMBOL = "ETH_USDC"
DRIVERS = 64
"""Connections placing the streamed market's orders (see `Fleet.drive`)."""
STREAMS = (f"depth.{SYMBOL}", f"trade.{SYMBOL}")
UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (the all-zero mask: servers must accept any key)."""
    size = len(payload)
    head = bytes((0x80 | opcode,)) + (
        bytes((0x80 | size,)) if size < 126 else bytes((0x80 | 126,)) + size.to_bytes(2, "big")
    )
    return head + b"\0\0\0\0" + payload


# -- the clients' process --------------------------------------------------------------


class WsClient(asyncio.Protocol):
    """One websocket client that counts frames and samples the lag of the last frame of each read."""

    def __init__(self, subscribe: bytes, lags: list[int]) -> None:
        self.subscribe = subscribe
        self.lags = lags
        self.buffer = b""
        self.open = False
        self.closed = False
        self.frames = 0
        self.bytes = 0
        self.record: list[bytes] | None = None
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        self.transport = transport  # type: ignore[assignment]
        transport.write(UPGRADE)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        """Note that the server closed the connection."""
        self.closed = True
        if not self.connected.done():
            self.connected.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        """Parse whole frames: count data frames, answer pings."""
        buffer = self.buffer + data
        if not self.open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            self.open = True
            buffer = buffer[end + 4 :]
            assert self.transport is not None
            self.transport.write(self.subscribe)
            self.connected.set_result(None)
        at, size, last = 0, len(buffer), None
        while size - at >= 2:
            opcode, length, start = buffer[at] & 0x0F, buffer[at + 1] & 0x7F, at + 2
            if length == 126:
                length, start = int.from_bytes(buffer[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                length, start = int.from_bytes(buffer[at + 2 : at + 10], "big"), at + 10
            if start + length > size:
                break
            if opcode == 0x1:
                self.frames += 1
                self.bytes += length
                last = (start, start + length)
                if self.record is not None:
                    self.record.append(buffer[start : start + length])
            elif opcode == 0x9 and self.transport is not None:
                self.transport.write(client_frame(0xA, buffer[start : start + length]))
            at = start + length
        if last is not None:
            self.lags.append(time.time_ns() // 1000 - orjson.loads(buffer[last[0] : last[1]])["data"]["E"])
        self.buffer = buffer[at:]


def _same(client: WsClient) -> WsClient:
    return client


class Fleet:
    """The clients of one server, and the orders that feed their market."""

    def __init__(self) -> None:
        self.clients: list[WsClient] = []
        self.by_port: dict[int, list[WsClient]] = {}
        self.lags: list[int] = []

    async def connect(self, port: int, count: int) -> None:
        """Open `count` connections subscribed to STREAMS, a hundred at a time."""
        loop = asyncio.get_running_loop()
        request = client_frame(0x1, orjson.dumps({"method": "SUBSCRIBE", "params": list(STREAMS), "id": 1}))
        for first in range(0, count, 100):
            batch = [WsClient(request, self.lags) for _ in range(first, min(count, first + 100))]
            await asyncio.gather(
                *(loop.create_connection(functools.partial(_same, c), "127.0.0.1", port) for c in batch)
            )
            await asyncio.gather(*(c.connected for c in batch))
            self.clients.extend(batch)
            self.by_port.setdefault(port, []).extend(batch)

    def close(self) -> None:
        """Close every connection."""
        for client in self.clients:
            if client.transport is not None:
                client.transport.close()
        self.clients.clear()
        self.by_port.clear()

    def behind(self) -> int:
        """How many frames the slowest open client is behind the fastest."""
        counts = [c.frames for c in self.clients if not c.closed]
        return max(counts) - min(counts) if counts else 0

    async def drive(self, ports: list[int], secret: str, window: int, stop: asyncio.Event) -> int:
        """Place orders on SYMBOL while the slowest client is fewer than `window` frames behind; return how many.

        `DRIVERS` connections in all, as many in either form, spread over the servers
        (over gateways, the orders come through each), each waiting for its order's
        answer: many, since an order's round trip through a gateway, Redis and the engine
        is several times one through a single process. One watcher compares the clients'
        counts every 5 ms (a comparison takes ~0.2 ms) and opens or closes the gate the
        connections wait at: a check by each connection before each order, and each
        millisecond while the window is full, would cost the clients' process more than
        its clients do.
        """
        keys = KeyPair.from_secret(secret)
        placed = 0
        gate = asyncio.Event()

        async def watch() -> None:
            while not stop.is_set():
                if self.behind() < window:
                    gate.set()
                else:
                    gate.clear()
                await asyncio.sleep(0.005)
            gate.set()

        async def one(seed: int) -> None:
            nonlocal placed
            rng = random.Random(seed)
            connection = await Connection.open(ports[seed % len(ports)])
            while not stop.is_set():
                await gate.wait()
                side = rng.choice(("Bid", "Ask"))
                ticks = 200_000 + rng.randint(-5, 5) * (1 if side == "Ask" else -1)
                params = {
                    "orderType": "Limit",
                    "price": f"{ticks // 100}.{ticks % 100:02d}",
                    "quantity": "0.01",
                    "side": side,
                    "symbol": SYMBOL,
                }
                await connection.post(
                    ORDER_EXECUTE.path, orjson.dumps(params), keys.headers(ORDER_EXECUTE.instruction, [params])
                )
                placed += 1
            connection.close()

        await asyncio.gather(watch(), *(one(n) for n in range(DRIVERS)))
        return placed

    async def measure(self, seconds: float, drive: dict[str, Any] | None, record: str | None) -> dict[str, Any]:
        """Count what the clients receive for `seconds` (while driving orders if asked); the figures."""
        stop = asyncio.Event()
        driving = asyncio.create_task(self.drive(stop=stop, **drive)) if drive else None
        recorder = self.clients[0]
        frames, data, started = sum(c.frames for c in self.clients), sum(c.bytes for c in self.clients), time.time()
        by_port = {port: sum(c.frames for c in clients) for port, clients in self.by_port.items()}
        one, self.lags[:] = recorder.frames, []
        recorder.record = [] if record is not None else None
        await asyncio.sleep(seconds)
        elapsed = time.time() - started
        delivered = sum(c.frames for c in self.clients) - frames
        delivered_bytes = sum(c.bytes for c in self.clients) - data
        events = recorder.frames - one
        by_port = {port: sum(c.frames for c in clients) - by_port[port] for port, clients in self.by_port.items()}
        stop.set()
        placed = await driving if driving is not None else 0
        if record is not None and recorder.record is not None:
            Path(record).write_bytes(orjson.dumps([r.decode() for r in recorder.record]))
            recorder.record = None
        lags = sorted(self.lags) or [0]
        return {
            "seconds": elapsed,
            "frames": delivered,
            "frames_by_port": [by_port[port] for port in self.by_port],
            "bytes": delivered_bytes,
            "events": events,
            "orders": placed,
            "lag_p50_ms": lags[len(lags) // 2] / 1000,
            "lag_p99_ms": lags[len(lags) * 99 // 100] / 1000,
            "closed": sum(c.closed for c in self.clients),
        }


def run_clients() -> None:
    """The clients' process: JSON commands on stdin (connect, measure, close), one JSON answer each on stdout."""
    _raise_fd_limit()

    async def serve() -> None:
        fleet = Fleet()
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            match command.pop("do"):
                case "connect":
                    await fleet.connect(**command)
                    answer: dict[str, Any] = {"connected": len(fleet.clients)}
                case "measure":
                    answer = await fleet.measure(**command)
                case _:
                    fleet.close()
                    answer = {}
            print(json.dumps(answer), flush=True)

    asyncio.run(serve())


# -- the servers -----------------------------------------------------------------------


@dataclass
class Probe:
    """The event loop's longest stall since the last report (`LoopMonitor`), and the longest GC pause."""

    loop: LoopMonitor = field(default_factory=LoopMonitor)
    longest_gc: float = 0.0
    longest_gc_generation: int = 0
    full_collections: int = 0
    _gc_started: float = 0.0

    def gc_callback(self, phase: str, info: dict[str, int]) -> None:
        """Time each garbage collection (registered in `gc.callbacks`)."""
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._gc_started
            self.full_collections += info["generation"] == 2
            if pause > self.longest_gc:
                self.longest_gc, self.longest_gc_generation = pause, info["generation"]


def serve_probed(port: int) -> None:
    """The exchange as `exchange serve` runs it, plus the stall probe: SIGUSR1 prints and resets its figures."""
    from exchange.config import Settings
    from exchange.serve import build_server

    _raise_fd_limit()
    app, server = build_server(Settings(), "127.0.0.1", port)
    probe = Probe()
    gc.callbacks.append(probe.gc_callback)

    def report() -> None:
        feed, hub = app.state.streams.feed, app.state.streams.hub
        figures = {
            "stall_ms": probe.loop.take("wall"),
            "stall_cpu_ms": probe.loop.take("cpu"),
            "feed_slice_ms": feed.longest_slice,
            "flush_slice_ms": hub.longest_flush,
            "gc_ms": probe.longest_gc,
        }
        counts = {"gc_generation": probe.longest_gc_generation, "full_collections": probe.full_collections}
        print(json.dumps({**{name: seconds * 1000 for name, seconds in figures.items()}, **counts}), flush=True)
        probe.longest_gc = feed.longest_slice = hub.longest_flush = 0.0
        probe.longest_gc_generation = probe.full_collections = 0

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, report)
        probing = asyncio.create_task(probe.loop.run())
        await server.serve()
        probing.cancel()

    asyncio.run(main())


def serve_exchange(port: int) -> None:
    """A process of the split form as `exchange serve` runs it (its websocket protocol); settings from the env."""
    from exchange.config import Settings
    from exchange.serve import build_server

    _raise_fd_limit()
    build_server(Settings(), "127.0.0.1", port)[1].run()


def serve_bare(port: int) -> None:
    """The ceiling: a `websockets` server; a line `<seconds> <frames file>` on stdin broadcasts those frames."""
    from websockets.asyncio.server import ServerConnection, broadcast, serve
    from websockets.exceptions import ConnectionClosed

    _raise_fd_limit()
    connections: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        connections.add(connection)
        try:
            async for _ in connection:
                pass
        except ConnectionClosed:  # the clients' process closes its sockets without a close frame
            pass
        finally:
            connections.discard(connection)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with serve(handler, "127.0.0.1", port, max_queue=None):
            while line := await loop.run_in_executor(None, sys.stdin.readline):
                seconds, path = line.split()
                frames = orjson.loads(Path(path).read_bytes())
                deadline, sent = time.monotonic() + float(seconds), 0
                while time.monotonic() < deadline:
                    broadcast(connections, frames[sent % len(frames)])
                    sent += 1
                    await asyncio.sleep(0)
                print(json.dumps({"broadcasts": sent}), flush=True)

    asyncio.run(main())
