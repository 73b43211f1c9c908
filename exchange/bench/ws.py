"""`exchange bench ws`: websocket fan-out to 1,000 clients while orders flow, against a bare `broadcast()`.

Processes. The exchange runs as `exchange serve` does (the app under uvicorn with
`StreamProtocol`, the default asyncio loop) in its own process, on a scratch database,
with a probe task that measures the event loop's longest stall (how late a 1 ms sleep
wakes up) both in wall time and in the loop thread's CPU time (the difference is time
the process was descheduled: clients, database and server share the cores; the
`LoopMonitor` of `exchange.observability`), started by this benchmark's server entry
point with GC timing beside it. The 1,000 clients run in a second process: minimal
websocket clients on asyncio protocols that count frames and bytes, answer pings, and
decode only the last frame of each read to sample the delivery lag (receive time minus
the frame's `E`). The same client process drives the orders of the streamed market, so
it knows how far behind its clients are.

Phases, one run:

1. fan-out: every client subscribes to `depth.ETH_USDC` and `trade.ETH_USDC`; signed
   limit orders around one price (about half cross) go to ETH_USDC over REST as fast
   as the fan-out delivers them: a driver sends the next order only while the slowest
   client is fewer than `window` frames behind the fastest, so the outboxes stay far
   below their bound and nobody is dropped. Delivered frames/s is the sum over clients;
   events/s is the frames one client receives per second.
2. REST under fan-out: the same, while `rest_clients` connections place signed orders
   on SOL_USDC at `rest_rate` orders/s in all (`exchange.bench.api.load`): the same
   offered load in either form, where connections that each wait for their answer would
   offer less to the form whose round trip is longer. SOL_USDC has no
   subscribers, so its events cost the feed a filter and no frames: 2,000 orders/s to
   1,000 subscribers of one market would be millions of frames per second, which no
   exchange streams unaggregated.
3. ceiling: a bare `websockets` server in its own process, with the same 1,000 clients
   connected, calls `broadcast()` with the frames recorded in phase 1 as fast as its
   loop turns (broadcast skips a client whose buffer is full, its flow control).

With `--gateways N` the same phases run against one engine process and N gateway
processes over a private Redis (`exchange.bench.api.split_exchange`; each gateway as
`exchange serve` runs it), the clients, the driver's and the REST load's connections
spread evenly over the gateways; the ceiling is N bare servers with the same split, so
each gateway's fan-out is compared with its own bare twin. The engine process's stall
is its own measurement (`EXCHANGE_LOOP_MONITOR`: `exchange_event_loop_stall_seconds`,
scraped from its `/metrics` before and after each phase), and the CPU every process used
is printed beside each phase.

Client, servers, database and load share the machine, so every figure is a floor of
what the server alone would do, and the ratio compares like with like.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from exchange.api.auth import KeyPair
from exchange.bench import DEFAULT_SERVER
from exchange.bench.api import (
    Connection,
    Run,
    _free_port,
    _order_maker,
    _setup,
    _signed,
    load,
    server_env,
    split_exchange,
)
from exchange.bench.cpu import CpuMeter, cpu_shares
from exchange.observability import LoopMonitor
from exchange.protocol import endpoints
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


# -- the clients' process ---------------------------------------------------------------


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


class Child:
    """A child process of this benchmark spoken to by lines on stdin and stdout."""

    def __init__(self, code: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
        )

    async def ask(self, request: dict[str, Any] | str | None) -> dict[str, Any]:
        """Send a request line (if any) and wait for the JSON answer line."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        if request is not None:
            stdin.write((request if isinstance(request, str) else json.dumps(request)) + "\n")
            stdin.flush()
        line = await asyncio.to_thread(stdout.readline)
        if not line:
            raise RuntimeError(f"benchmark child exited with {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        """Terminate the process and wait for it."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def child(code: str, port: int | None = None, env: dict[str, str] | None = None) -> Iterator[Child]:
    """Run a `Child`, waiting for `port` to accept connections if given; stop it on exit."""
    started = Child(code, env)
    try:
        if port is not None:
            _wait_port(started.process, port)
        yield started
    finally:
        started.stop()


def _wait_port(process: subprocess.Popen[str], port: int) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            time.sleep(0.1)
    raise RuntimeError("server did not start")


# -- the run ---------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything one run measured; `*_probe` are the stall figures of the process that runs the engine."""

    fanout: dict[str, Any]
    fanout_probe: dict[str, Any]
    fanout_cpu: dict[str, float]
    under_rest: dict[str, Any]
    rest_probe: dict[str, Any]
    rest_cpu: dict[str, float]
    rest: Run
    ceiling: dict[str, Any] = field(default_factory=dict)
    broadcasts: int = 0


def _list_streamed_market(url: str, admin: KeyPair) -> KeyPair:
    """ETH/USDC beside `_setup`'s SOL/USDC, and a funded account to trade it."""
    _signed(url, admin, endpoints.ASSET_CREATE, {"symbol": "ETH", "decimals": "9"})
    market = {"baseSymbol": "ETH", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"}
    _signed(url, admin, endpoints.MARKET_CREATE, market)
    trader = KeyPair.generate()
    _signed(url, trader, endpoints.ACCOUNT_CREATE, {"publicKey": trader.public_key})
    for symbol, quantity in (("ETH", "100000000"), ("USDC", "100000000000")):
        _signed(url, trader, endpoints.DEPOSIT, {"symbol": symbol, "quantity": quantity})
    return trader


Probed = Callable[[], Awaitable[dict[str, Any]]]


async def _phases(
    fleet: Child,
    drive: dict[str, Any],
    rest: tuple[list[int], list[KeyPair], float],
    seconds: float,
    frames_file: Path,
    probe: Probed,
    pids: dict[str, list[int]],
) -> Figures:
    """Phases 1 and 2 against connected clients (after a second's warm-up), which are closed after; no ceiling yet.

    `probe` answers the engine process's stall figures since its previous answer; `pids`
    are the processes whose CPU is metered (the clients' process and this one added).
    """
    await fleet.ask({"do": "measure", "seconds": 1.0, "drive": drive, "record": None})
    await probe()
    meter = CpuMeter({**pids, "clients": [fleet.process.pid], "load generator": [os.getpid()]})
    request = {"do": "measure", "seconds": seconds, "drive": drive}
    meter.start()
    fanout = await fleet.ask({**request, "record": str(frames_file)})
    meter.stop()
    fanout_probe, fanout_cpu = await probe(), meter.used
    ports, keys, rate = rest
    meter.start()
    under_rest, orders = await asyncio.gather(
        fleet.ask({**request, "record": None}),
        load(ports, [_order_maker(k, n) for n, k in enumerate(keys)], seconds, rate),
    )
    meter.stop()
    rest_probe, rest_cpu = await probe(), meter.used
    await fleet.ask({"do": "close"})
    return Figures(fanout, fanout_probe, fanout_cpu, under_rest, rest_probe, rest_cpu, orders)


async def _ceiling(fleet: Child, counts: list[int], seconds: float, frames_file: Path) -> tuple[dict[str, Any], int]:
    """Bare `broadcast()` servers, one per entry of `counts` with that many clients, sending the recorded frames."""
    with ExitStack() as stack:
        bare = []
        for count in counts:
            port = _free_port()
            bare.append(
                stack.enter_context(child(f"from exchange.bench.ws import serve_bare; serve_bare({port})", port))
            )
            await fleet.ask({"do": "connect", "port": port, "count": count})
        broadcasting = [asyncio.create_task(server.ask(f"{seconds + 2} {frames_file}")) for server in bare]
        await asyncio.sleep(1.0)
        ceiling = await fleet.ask({"do": "measure", "seconds": seconds, "drive": None, "record": None})
        broadcasts = sum(answer["broadcasts"] for answer in await asyncio.gather(*broadcasting))
        await fleet.ask({"do": "close"})
    return ceiling, broadcasts


async def _run(
    server_url: str, clients: int, seconds: float, rest_clients: int, rest_rate: float, window: int
) -> Figures:
    """Every phase against the exchange in one process (with the stall probe in it)."""
    from exchange.persistence.database import backend_pids, scratch_database

    with child("from exchange.bench.ws import run_clients; run_clients()") as fleet, _frames_file() as frames_file:
        async with scratch_database(server_url, prefix="exchange_bench_ws") as database_url:
            admin, port = KeyPair.generate(), _free_port()
            env = {**server_env(database_url, admin), "EXCHANGE_WS_MAX_CONNECTIONS_PER_IP": str(clients * 2)}
            code = f"from exchange.bench.ws import serve_probed; serve_probed({port})"
            with child(code, port, env) as server:
                url = f"http://127.0.0.1:{port}"
                keys = await asyncio.to_thread(_setup, url, admin, rest_clients)
                trader = await asyncio.to_thread(_list_streamed_market, url, admin)
                await fleet.ask({"do": "connect", "port": port, "count": clients})

                async def probe() -> dict[str, Any]:
                    server.process.send_signal(signal.SIGUSR1)
                    return await server.ask(None)

                drive = {"ports": [port], "secret": trader.secret, "window": window}
                pids = {"exchange": [server.process.pid], "postgres": await backend_pids(database_url)}
                figures = await _phases(fleet, drive, ([port], keys, rest_rate), seconds, frames_file, probe, pids)
        figures.ceiling, figures.broadcasts = await _ceiling(fleet, [clients], seconds, frames_file)
    return figures


async def _run_split(
    server_url: str, clients: int, seconds: float, rest_clients: int, rest_rate: float, window: int, gateways: int
) -> Figures:
    """Every phase against one engine process and `gateways` gateway processes, the clients spread over them."""
    from exchange.persistence.database import backend_pids, scratch_database

    with child("from exchange.bench.ws import run_clients; run_clients()") as fleet, _frames_file() as frames_file:
        async with scratch_database(server_url, prefix="exchange_bench_ws") as database_url:
            admin = KeyPair.generate()
            env = {"EXCHANGE_WS_MAX_CONNECTIONS_PER_IP": str(clients * 2), "EXCHANGE_LOOP_MONITOR": "true"}
            async with split_exchange(database_url, admin, gateways, env, __name__) as split:
                url = f"http://127.0.0.1:{split.ports[0]}"
                keys = await asyncio.to_thread(_setup, url, admin, rest_clients)
                trader = await asyncio.to_thread(_list_streamed_market, url, admin)
                counts = [clients // gateways + (n < clients % gateways) for n in range(gateways)]
                for port, count in zip(split.ports, counts, strict=True):
                    await fleet.ask({"do": "connect", "port": port, "count": count})
                drive = {"ports": split.ports, "secret": trader.secret, "window": window}
                pids = {**split.pids, "postgres": await backend_pids(database_url)}
                probe = functools.partial(_engine_stalls, split.engine_port)
                rest = (split.ports, keys, rest_rate)
                figures = await _phases(fleet, drive, rest, seconds, frames_file, probe, pids)
        figures.ceiling, figures.broadcasts = await _ceiling(fleet, counts, seconds, frames_file)
    return figures


async def _engine_stalls(port: int) -> dict[str, Any]:
    """The engine process's longest loop stall since the previous scrape, from its `/metrics` (ms)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    stalls = {
        sample.labels["clock"]: sample.value * 1000
        for family in text_string_to_metric_families(text)
        if family.name == "exchange_event_loop_stall_seconds"
        for sample in family.samples
    }
    return {"stall_ms": stalls["wall"], "stall_cpu_ms": stalls["cpu"]}


@contextmanager
def _frames_file() -> Iterator[Path]:
    path = Path(tempfile.mkstemp(prefix="bench_ws_", suffix=".json")[1])
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _rates(figures: dict[str, Any], *, lag: bool = True) -> str:
    s = figures["seconds"]
    line = (
        f"{figures['frames'] / s:9.0f} frames/s  {figures['events'] / s:6.0f} events/s"
        f"  {figures['bytes'] / s / 1e6:5.1f} MB/s  closed {figures['closed']}"
    )
    if lag:
        line += f"  lag p50 {figures['lag_p50_ms']:5.1f} ms  p99 {figures['lag_p99_ms']:6.1f} ms"
    return line


def _stalls(probe: dict[str, Any]) -> str:
    line = f"longest event-loop stall {probe['stall_ms']:.1f} ms (longest in CPU time {probe['stall_cpu_ms']:.1f} ms)"
    if "feed_slice_ms" not in probe:  # the split form's engine: it has no feed
        return f"engine process: {line}"
    return (
        f"{line}; longest slice: feed {probe['feed_slice_ms']:.1f} ms, flush {probe['flush_slice_ms']:.1f} ms,"
        f" GC {probe['gc_ms']:.1f} ms (generation {probe['gc_generation']}; {probe['full_collections']} full)"
    )


def _per_gateway(phase: dict[str, Any], ceiling: dict[str, Any]) -> str:
    return ", ".join(
        f"gateway {n} {frames / phase['seconds']:.0f} frames/s"
        f" = {frames / phase['seconds'] / (bare / ceiling['seconds']):.2f} of its bare broadcast"
        for n, (frames, bare) in enumerate(zip(phase["frames_by_port"], ceiling["frames_by_port"], strict=True), 1)
    )


def main(
    *,
    clients: int,
    seconds: float,
    rest_clients: int,
    rest_rate: float,
    window: int,
    gateways: int,
    server_url: str | None,
) -> None:
    """Run the phases (in one process, or over `gateways` gateways and one engine) and print the figures."""
    server = server_url or DEFAULT_SERVER
    if gateways:
        f = asyncio.run(_run_split(server, clients, seconds, rest_clients, rest_rate, window, gateways))
        form = f" over {gateways} gateways and one engine (a private Redis)"
    else:
        f = asyncio.run(_run(server, clients, seconds, rest_clients, rest_rate, window))
        form = ""
    print(
        f"exchange bench ws{f' --gateways {gateways}' if gateways else ''}: {clients} clients{form}"
        f" subscribed to {' and '.join(STREAMS)}, {seconds:.0f} s per phase"
    )
    for name, phase, probe, cpu in (
        ("fan-out", f.fanout, f.fanout_probe, f.fanout_cpu),
        ("with REST", f.under_rest, f.rest_probe, f.rest_cpu),
    ):
        driven = f"   ({phase['orders'] / phase['seconds']:.0f} orders/s driven)" if phase["orders"] else ""
        print(f"  {name:<13} {_rates(phase)}{driven}")
        if gateways:
            print(f"                {_per_gateway(phase, f.ceiling)}")
        print(f"                {_stalls(probe)}")
        print(f"                CPU of a core: {cpu_shares(cpu, phase['seconds'])}")
    print(
        f"  REST          POST /api/v1/order on SOL_USDC, {rest_clients} connections at {rest_rate:.0f} orders/s:"
        f" {f.rest.rate:7.0f} orders/s"
        f"   p50 {f.rest.percentile(50):6.2f} ms   p99 {f.rest.percentile(99):6.2f} ms   ({f.rest.errors} errors)"
    )
    servers = f"{gateways} bare websockets servers, the clients split alike" if gateways else "bare websockets"
    print(f"  ceiling       {_rates(f.ceiling, lag=False)}  ({servers}, broadcast(), {f.broadcasts} calls)")
    ratio = f.fanout["frames"] / f.fanout["seconds"] / (f.ceiling["frames"] / f.ceiling["seconds"])
    print(f"  ratio         exchange fan-out / bare broadcast: {ratio:.2f}")
    if gateways:
        print("  targets: fan-out >= 0.6 of a bare broadcast per gateway; engine's longest stall <= 5 ms of CPU time")
