"""Slow clients over real sockets: half-sent requests are closed within the bound, everyone else is served.

`exchange serve` runs with `EXCHANGE_REQUEST_TIMEOUT=2`. The test opens 600
connections that never finish their request: 200 that send nothing, 200 that stop in
the middle of their headers, and 200 POSTs whose body is shorter than their
Content-Length. Meanwhile a normal client keeps sending complete requests on its own
connections. Every slow connection must be closed by the server within the bound (plus
scheduling slack), those that sent something with a 408 TIMEOUT, while the normal
client's requests all succeed quickly, and a websocket opened at the start (an upgraded
connection is bounded by its pings, not by the request deadline) still answers after
the bound; the figures are printed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect

from tests.support.processes import EXCHANGE, Process, environment, scratch_site

BOUND = 2.0
SLACK = 1.5
EACH = 200

PARTIAL_HEADERS = b"GET /api/v1/depth?symbol=SOL_USDC HTTP/1.1\r\nHost: exchange\r\nAccept: appl"
SHORT_BODY = (
    b"POST /api/v1/order HTTP/1.1\r\nHost: exchange\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100\r\n\r\n{"symbol": "SOL'
)


async def slow(port: int, sent: bytes) -> tuple[float, bytes]:
    """Connect, send `sent` and nothing more; seconds from connecting until the server closed, and its answer."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(sent)
    answer = b""
    try:
        async with asyncio.timeout(BOUND + 30):
            while chunk := await reader.read(65536):
                answer += chunk
    except ConnectionResetError:
        pass
    finally:
        writer.close()
    return time.monotonic() - start, answer


async def normal(url: str, until: float) -> list[float]:
    """Complete requests, one after another, until `until`; the latency of each (every one must succeed)."""
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        while time.monotonic() < until:
            start = time.monotonic()
            reply = await http.get("/api/v1/time")
            latencies.append(time.monotonic() - start)
            assert reply.status_code == 200, reply.text
            await asyncio.sleep(0.01)
    return latencies


def test_half_sent_requests_are_closed_within_the_bound_while_others_are_served(tmp_path: Path) -> None:
    with scratch_site("exchange_slow") as (port, url, database_url):
        env = environment(
            DATABASE_URL=database_url,
            EXCHANGE_REQUEST_TIMEOUT=str(BOUND),
            EXCHANGE_IP_RATE_LIMIT="0",
        )
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/ready")

            async def run() -> tuple[list[tuple[float, bytes]], list[float]]:
                async with connect(f"ws://127.0.0.1:{port}") as socket:
                    kinds = [b""] * EACH + [PARTIAL_HEADERS] * EACH + [SHORT_BODY] * EACH
                    slow_ones = [asyncio.create_task(slow(port, sent)) for sent in kinds]
                    served = await normal(url, time.monotonic() + BOUND + SLACK)
                    await socket.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["nope"]}).decode())
                    assert orjson.loads(await socket.recv())["error"]["code"] == 4006
                return await asyncio.gather(*slow_ones), served

            closed, served = asyncio.run(run())
        finally:
            assert server.terminate() == 0, server.output()

    names = ("nothing sent", "half the headers", "body shorter than Content-Length")
    print(f"\n{len(closed)} slow connections, request timeout {BOUND} s: seconds until the server closed them")
    for n, name in enumerate(names):
        group = closed[n * EACH : (n + 1) * EACH]
        seconds = [s for s, _ in group]
        answered = sum(a.startswith(b"HTTP/1.1 408 ") and b'"code":"TIMEOUT"' in a for _, a in group)
        print(
            f"  {name:34} min {min(seconds):.2f} median {statistics.median(seconds):.2f} "
            f"max {max(seconds):.2f}, {answered}/{len(group)} answered 408 TIMEOUT"
        )
        assert all(BOUND <= s < BOUND + SLACK for s in seconds), (name, seconds)
        assert answered == len(group), (name, [a for _, a in group][:3])
    print(
        f"  normal client meanwhile: {len(served)} requests, all 200, latency median "
        f"{statistics.median(served) * 1000:.1f} ms, p90 {statistics.quantiles(served, n=10)[-1] * 1000:.1f} ms, "
        f"max {max(served) * 1000:.1f} ms"
    )
    assert max(served) < 1.0
    assert "Traceback" not in server.output(), server.output()
