"""Slow consumers: an overflowing outbox is cut off without touching the others, end to end on `exchange serve`.

The end-to-end test runs the real command in its own process (so its memory can be
read from /proc) on a scratch database, churns the SOL/USDC book over signed REST as
fast as four connections go, and watches three kinds of client: two that read
everything (the control), and one raw socket that subscribes to the same streams and
then never reads, with a small receive buffer so its side absorbs almost nothing.
The stuck client must be reset within seconds, after at most its bounds' worth of
frames were published for it; the server's kernel send queue for it never exceeds the
`SO_SNDBUF` bound; the server's RSS does not grow with it; and the readers see every
depth diff in sequence with their latency unchanged within noise.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from pathlib import Path

import orjson
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from exchange.api.auth import KeyPair
from exchange.bench.api import MakeRequest, _order_maker, _setup, load
from exchange.streams.hub import Client, Hub, Message
from tests.api.conftest import Exchange
from tests.streams.conftest import STREAM_LIMITS
from tests.streams.wsclient import Socket
from tests.support.processes import EXCHANGE, Process, environment, scratch_site

STREAMS = ("depth.SOL_USDC", "trade.SOL_USDC", "bookTicker.SOL_USDC")
MAX_QUEUED = 262_144
SEND_BUFFER = 65_536
TCP_CLOSE = 7


def test_an_outbox_that_overflows_stops_its_writer_and_queues_nothing_more() -> None:
    async def run() -> None:
        hub = Hub()
        stuck, fast = Client(max_queued_bytes=1000), Client(max_queued_bytes=1000)
        delivered: list[str] = []
        never = asyncio.Event()

        async def blocked_send(message: Message) -> None:
            await never.wait()

        async def send(message: Message) -> None:
            delivered.append(message["text"])

        stuck.writer = asyncio.create_task(stuck.write(blocked_send))
        fast.writer = asyncio.create_task(fast.write(send))
        for client in (stuck, fast):
            hub.subscribe(client, "depth.X_USDC")
        for n in range(30):
            hub.publish("depth.X_USDC", f"{n:0100d}")
            await asyncio.sleep(0)
        assert stuck.overflowed and not stuck.outbox and stuck.queued_bytes == 0
        await asyncio.sleep(0)
        assert stuck.writer.cancelled()
        assert not fast.overflowed and len(delivered) == 30 and fast.queued_bytes == 0
        fast.writer.cancel()

    asyncio.run(run())


def test_connections_per_address_are_capped(streams_exchange: Exchange) -> None:
    cap = STREAM_LIMITS["ws_max_connections_per_ip"]

    async def run() -> None:
        sockets = [await Socket.open(streams_exchange.url) for _ in range(cap)]
        extra = await Socket.open(streams_exchange.url)
        await extra.connection.wait_closed()
        assert extra.connection.close_code == 1008
        assert extra.connection.close_reason == "too many connections from this address"
        for one in sockets:
            await one.close()
        await asyncio.sleep(0.2)
        again = await Socket.open(streams_exchange.url)
        await again.subscribe("depth.SOL_USDC")
        assert await again.drain(0.3) == []
        assert again.connection.close_code is None
        await again.close()

    asyncio.run(run())


class StuckClient:
    """A websocket client on a plain socket that subscribes and then never reads again."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"))
        protocol.send_request(protocol.connect())
        self.sock.sendall(b"".join(protocol.data_to_send()))
        while not protocol.handshake_exc and protocol.state.name == "CONNECTING":
            protocol.receive_data(self.sock.recv(1))
        assert protocol.handshake_exc is None
        protocol.send_text(orjson.dumps({"method": "SUBSCRIBE", "params": list(STREAMS), "id": 1}))
        self.sock.sendall(b"".join(protocol.data_to_send()))
        self.port: int = self.sock.getsockname()[1]

    def reset(self) -> bool:
        """True once the server reset the connection (the socket is CLOSED without this side reading)."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == TCP_CLOSE


def server_send_queue(server_port: int, client_port: int) -> int:
    """Bytes the kernel holds for the server's end of one connection (tx_queue in /proc/net/tcp)."""
    local, remote = f":{server_port:04X}", f":{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(local) and fields[2].endswith(remote):
            return int(fields[4].split(":")[0], 16)
    return 0


def rss(pid: int) -> int:
    """Resident memory of a process in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class Reader:
    """A client that reads every frame: its latency (receive time minus `E`) and depth continuity."""

    def __init__(self, socket_: Socket) -> None:
        self.socket = socket_
        self.latencies: list[tuple[float, int]] = []
        self.bytes = 0
        self.last_depth = 0
        self.gaps = 0

    async def run(self) -> None:
        """Read until the connection closes."""
        async for text in self.socket.connection:
            received = time.time_ns() // 1000
            frame = orjson.loads(text)
            data = frame["data"]
            self.bytes += len(text)
            self.latencies.append((time.monotonic(), received - data["E"]))
            if frame["stream"] == "depth.SOL_USDC":
                self.gaps += self.last_depth != 0 and data["U"] != self.last_depth + 1
                self.last_depth = data["u"]

    def between(self, start: float, end: float) -> list[int]:
        """Latencies (µs) of the frames received in `[start, end)`."""
        return [latency for at, latency in self.latencies if start <= at < end]


def test_a_client_that_never_reads_is_reset_in_bounded_memory_and_time(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    with scratch_site("exchange_slow") as (port, url, database_url):
        env = environment(
            PORT=str(port),
            DATABASE_URL=database_url,
            EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key,
            EXCHANGE_OPEN_SIGNUP="true",
            EXCHANGE_IP_RATE_LIMIT="0",
            EXCHANGE_KEY_RATE_LIMIT="0",
            EXCHANGE_WS_MAX_QUEUED_BYTES=str(MAX_QUEUED),
            EXCHANGE_WS_SEND_BUFFER_BYTES=str(SEND_BUFFER),
            EXCHANGE_WS_CLOSE_TIMEOUT="0.2",
        )
        server = Process([EXCHANGE, "serve"], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/health")
            makers = [_order_maker(keys, n) for n, keys in enumerate(_setup(url, admin, 4))]
            asyncio.run(_slow_consumer(url, port, server.popen.pid, makers))
        finally:
            server.terminate()


async def _slow_consumer(url: str, port: int, pid: int, makers: list[MakeRequest]) -> None:
    readers = [Reader(await Socket.open(url)) for _ in range(2)]
    for reader in readers:
        await reader.socket.subscribe(*STREAMS)
    tasks = [asyncio.create_task(reader.run()) for reader in readers]
    stop = asyncio.Event()

    async def churn() -> None:
        while not stop.is_set():
            await load(port, makers, 0.5)

    churning = asyncio.create_task(churn())
    await asyncio.sleep(1.0)
    baseline_from = time.monotonic()
    await asyncio.sleep(3.0)
    memory_before, bytes_before = rss(pid), readers[0].bytes
    stuck = StuckClient(port)
    stuck_from = time.monotonic()
    queued: list[int] = []
    memory = [memory_before]
    while not stuck.reset():
        assert time.monotonic() - stuck_from < 30, f"not dropped; the readers got {readers[0].bytes - bytes_before} B"
        queued.append(server_send_queue(port, stuck.port))
        memory.append(rss(pid))
        await asyncio.sleep(0.05)
    dropped_at = time.monotonic()
    published = readers[0].bytes - bytes_before
    await asyncio.sleep(2.0)
    memory.append(rss(pid))
    stop.set()
    await churning
    after = time.monotonic()
    for reader in readers:
        assert reader.socket.connection.close_code is None
        await reader.socket.close()
    await asyncio.gather(*tasks)
    stuck.sock.close()

    # The outbox, the transport's 64 KiB, the kernel's doubled SO_SNDBUF, and 128 KiB for the
    # frames published during the close timeout and the polling interval.
    assert published <= MAX_QUEUED + 65_536 + 2 * SEND_BUFFER + 131_072, published
    assert max(queued) <= 2 * SEND_BUFFER, max(queued)
    assert max(memory) - memory_before < 16 << 20, [m - memory_before for m in memory]
    for reader in readers:
        assert reader.gaps == 0
        baseline = reader.between(baseline_from, stuck_from)
        during = reader.between(stuck_from, after)
        assert len(baseline) > 100 and len(during) > 100
        assert statistics.median(during) <= 2 * statistics.median(baseline) + 2_000, (
            statistics.median(baseline),
            statistics.median(during),
        )
    print(
        f"dropped after {dropped_at - stuck_from:.1f} s and {published} B published;"
        f" server send queue max {max(queued)} B; RSS {memory_before >> 20} -> {max(memory) >> 20} MiB;"
        f" reader p50 {statistics.median(readers[0].between(baseline_from, stuck_from)):.0f} ->"
        f" {statistics.median(readers[0].between(stuck_from, after)):.0f} µs"
    )
