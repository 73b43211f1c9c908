"""`exchange bench api`: signed orders per second over HTTP, with persistence on, against a bare ceiling.

The server is the real app (`create_app`) under uvicorn in its own process, on a
scratch database created (and dropped) on the given PostgreSQL server: every order is
ED25519-verified, matched, committed in a group-commit transaction and only then
answered. `clients` concurrent clients, each on its own keep-alive connection and
account, place limit orders around one price for `seconds` (about half of them cross
and trade); each request's latency is measured from write to full reply.

With `--gateways N` it measures the single process, then one engine process with 1, 2,
... N gateway processes over a private Redis (`exchange serve --role engine|gateway`),
the clients spread over the gateways, and prints beside each the CPU every process used
(engine, each gateway, Redis, the PostgreSQL backends, the load generator).

The ceiling, measured in the same run by the same client code on the same machine: a
bare Starlette app under uvicorn whose only route answers a POST with a small orjson
body, without signature, engine or database. The ratio says what the exchange's work
costs on top of the web stack itself. Client and servers share the machine, so the
figures are a floor of what the server alone would do.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import orjson

from exchange.api.auth import KeyPair
from exchange.bench import DEFAULT_SERVER
from exchange.protocol import endpoints
from exchange.protocol.endpoints import ORDER_EXECUTE, Endpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_bare(port: int) -> None:
    """Run the ceiling: Starlette + uvicorn answering POST /api/v1/order with a fixed JSON body."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def order(request: Request) -> Response:
        await request.body()
        return Response(orjson.dumps({"id": "1", "status": "New"}), media_type="application/json")

    app = Starlette(routes=[Route(ORDER_EXECUTE.path, order, methods=[ORDER_EXECUTE.method])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_exchange(port: int) -> None:
    """Run the exchange with settings from the environment."""
    import uvicorn

    from exchange.app import create_app
    from exchange.config import Settings

    uvicorn.run(create_app(Settings()), host="127.0.0.1", port=port, log_level="warning", access_log=False)


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough HTTP for the benchmark."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @staticmethod
    async def open(port: int) -> Connection:
        """Connect to 127.0.0.1:port."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return Connection(reader, writer)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send one POST and read the whole reply."""
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n".encode()
            + body
        )
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


@dataclass
class Run:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    def __add__(self, other: Run) -> Run:
        """Two runs as one (their requests, errors, time and latencies added up)."""
        return Run(
            self.requests + other.requests,
            self.errors + other.errors,
            self.seconds + other.seconds,
            self.latencies + other.latencies,
        )

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds."""
        return statistics.quantiles(self.latencies, n=100)[int(p) - 1] * 1000


MakeRequest = Callable[[int], tuple[bytes, dict[str, str]]]


async def load(
    port: int | Sequence[int], requests: list[MakeRequest], seconds: float, rate: float | None = None
) -> Run:
    """Drive one connection per request maker (spread over the ports) for `seconds`; count replies and latencies.

    Each connection sends its next request as soon as the previous one is answered or,
    given `rate` (requests/s in all), at a steady `rate / connections` from staggered
    starts, never sooner than its previous answer: a connection that falls behind skips
    the slots it missed instead of bursting, so the rate achieved shows any shortfall.
    """
    ports = [port] if isinstance(port, int) else list(port)
    connections = [await Connection.open(ports[n % len(ports)]) for n in range(len(requests))]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    interval = len(requests) / rate if rate else 0.0

    async def client(connection: Connection, make: MakeRequest, first: float) -> None:
        nonlocal errors
        n, slot = 0, first
        while time.perf_counter() < deadline:
            if interval:
                if (wait := slot - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                slot = max(slot, time.perf_counter()) + interval
            body, headers = make(n)
            n += 1
            start = time.perf_counter()
            status, _ = await connection.post(ORDER_EXECUTE.path, body, headers)
            latencies.append(time.perf_counter() - start)
            errors += status != 200

    started = time.perf_counter()
    firsts = [started + interval * n / len(requests) for n in range(len(requests))]
    await asyncio.gather(
        *(client(c, make, first) for c, make, first in zip(connections, requests, firsts, strict=True))
    )
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return Run(requests=len(latencies), errors=errors, seconds=elapsed, latencies=latencies)


def _start(target: str, port: int, env: dict[str, str], module: str = __name__) -> subprocess.Popen[bytes]:
    code = f"from {module} import {target}; {target}({port})"
    process = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, **env})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}") from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{target} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def _signed(url: str, keys: KeyPair, endpoint: Endpoint, params: dict[str, str]) -> None:
    headers = {**keys.headers(endpoint.instruction, [params]), "Content-Type": "application/json"}
    reply = httpx.post(url + endpoint.path, content=orjson.dumps(params), headers=headers, timeout=30)
    if reply.status_code != 200:
        raise RuntimeError(f"setup {endpoint.path} failed: {reply.text}")


def _order_maker(keys: KeyPair, seed: int) -> MakeRequest:
    rng = random.Random(seed)

    def make(n: int) -> tuple[bytes, dict[str, str]]:
        side = "Bid" if n % 2 == 0 else "Ask"
        offset = rng.randint(-5, 5)
        price = 10_000 - offset if side == "Bid" else 10_000 + offset
        params = {
            "orderType": "Limit",
            "price": f"{price // 100}.{price % 100:02d}",
            "quantity": "0.10",
            "side": side,
            "symbol": "SOL_USDC",
        }
        return orjson.dumps(params), keys.headers(ORDER_EXECUTE.instruction, [params])

    return make


def _setup(url: str, admin: KeyPair, clients: int) -> list[KeyPair]:
    for symbol, decimals in (("SOL", "9"), ("USDC", "6")):
        _signed(url, admin, endpoints.ASSET_CREATE, {"symbol": symbol, "decimals": decimals})
    market = {"baseSymbol": "SOL", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"}
    _signed(url, admin, endpoints.MARKET_CREATE, market)
    keys = [KeyPair.generate() for _ in range(clients)]
    for pair in keys:
        _signed(url, pair, endpoints.ACCOUNT_CREATE, {"publicKey": pair.public_key})
        for symbol, quantity in (("SOL", "100000000"), ("USDC", "100000000000")):
            _signed(url, pair, endpoints.DEPOSIT, {"symbol": symbol, "quantity": quantity})
    return keys


def server_env(database_url: str, admin: KeyPair) -> dict[str, str]:
    """The benchmarked server's settings: open sign-up, `admin`'s key and no rate limits."""
    return {
        "DATABASE_URL": database_url,
        "EXCHANGE_OPEN_SIGNUP": "true",
        "EXCHANGE_ADMIN_PUBLIC_KEY": admin.public_key,
        "EXCHANGE_IP_RATE_LIMIT": "0",
        "EXCHANGE_KEY_RATE_LIMIT": "0",
    }


async def _measure(server_url: str, clients: int, seconds: float) -> tuple[Run, Run]:
    bare_port = _free_port()
    bare = _start("serve_bare", bare_port, {})
    try:
        ceiling = await load(bare_port, [lambda n: (b'{"symbol":"SOL_USDC"}', {})] * clients, seconds)
    finally:
        _stop(bare)
    ours, _ = await _measure_one(server_url, clients, seconds)
    return ours, ceiling


async def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as http:
        while (await http.get(f"http://127.0.0.1:{port}/ready")).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not become ready")
            await asyncio.sleep(0.1)


@dataclass
class Split:
    """The processes of the split form: one engine and its gateways (their HTTP ports), and pids to meter."""

    engine_port: int
    ports: list[int]
    pids: dict[str, list[int]]


@asynccontextmanager
async def split_exchange(
    database_url: str, admin: KeyPair, gateways: int, env: dict[str, str], serve: str = __name__
) -> AsyncIterator[Split]:
    """One engine process and `gateways` gateway processes over a private Redis, ready; stopped on exit.

    `serve` names the module whose `serve_exchange(port)` runs each process; `env` is added
    to `server_env`'s settings.
    """
    from exchange.bench.redis import private_redis

    with private_redis() as (redis_url, redis_pid):
        settings = {**server_env(database_url, admin), "REDIS_URL": redis_url, **env}
        engine_port, ports = _free_port(), [_free_port() for _ in range(gateways)]
        started: list[subprocess.Popen[bytes]] = []
        try:
            started.append(_start("serve_exchange", engine_port, {**settings, "EXCHANGE_ROLE": "engine"}, serve))
            await _wait_ready(engine_port)
            for port in ports:
                started.append(_start("serve_exchange", port, {**settings, "EXCHANGE_ROLE": "gateway"}, serve))
                await _wait_ready(port)
            pids = {"engine": [started[0].pid], "redis": [redis_pid]}
            yield Split(engine_port, ports, pids | {f"gateway {n}": [p.pid] for n, p in enumerate(started[1:], 1)})
        finally:
            for process in started:
                _stop(process)


async def _measure_split(server_url: str, clients: int, seconds: float, gateways: int) -> tuple[Run, dict[str, float]]:
    """Orders/s through `gateways` gateway processes and one engine process over a private Redis; CPU by process."""
    from exchange.bench.cpu import CpuMeter
    from exchange.persistence.database import backend_pids, scratch_database

    async with scratch_database(server_url, prefix="exchange_bench_api") as database_url:
        admin = KeyPair.generate()
        async with split_exchange(database_url, admin, gateways, {}) as split:
            keys = await asyncio.to_thread(_setup, f"http://127.0.0.1:{split.ports[0]}", admin, clients)
            postgres = await backend_pids(database_url)
            meter = CpuMeter({**split.pids, "postgres": postgres, "load generator": [os.getpid()]})
            meter.start()
            run = await load(split.ports, [_order_maker(k, i) for i, k in enumerate(keys)], seconds)
            meter.stop()
    return run, meter.used


async def _measure_one(server_url: str, clients: int, seconds: float) -> tuple[Run, dict[str, float]]:
    """Orders/s through the single process; CPU by process."""
    from exchange.bench.cpu import CpuMeter
    from exchange.persistence.database import backend_pids, scratch_database

    async with scratch_database(server_url, prefix="exchange_bench_api") as database_url:
        admin = KeyPair.generate()
        port = _free_port()
        server = _start("serve_exchange", port, server_env(database_url, admin))
        try:
            keys = await asyncio.to_thread(_setup, f"http://127.0.0.1:{port}", admin, clients)
            groups = {"exchange": [server.pid], "postgres": await backend_pids(database_url)}
            meter = CpuMeter({**groups, "load generator": [os.getpid()]})
            meter.start()
            run = await load(port, [_order_maker(k, i) for i, k in enumerate(keys)], seconds)
            meter.stop()
        finally:
            _stop(server)
    return run, meter.used


def _line(name: str, run: Run, cpu: dict[str, float]) -> str:
    from exchange.bench.cpu import cpu_shares

    return (
        f"  {name:<12} {run.rate:8.0f} orders/s   p50 {run.percentile(50):6.2f} ms   p99 {run.percentile(99):6.2f} ms"
        f"   ({run.errors} errors)   CPU of a core: {cpu_shares(cpu, run.seconds)}"
    )


def main_split(*, clients: int, seconds: float, gateways: int, server_url: str | None) -> None:
    """The single process, then 1..`gateways` gateways with one engine over Redis; print each."""
    server = server_url or DEFAULT_SERVER
    print(f"exchange bench api --gateways {gateways}: {clients} signed clients over the gateways, {seconds:.0f} s each")
    one, cpu = asyncio.run(_measure_one(server, clients, seconds))
    print(_line("one process", one, cpu))
    for count in range(1, gateways + 1):
        run, cpu = asyncio.run(_measure_split(server, clients, seconds, count))
        print(_line(f"{count} gateway{'s' if count > 1 else ''}", run, cpu) + f"   ({run.rate / one.rate:.2f}x)")
    print("  target: 2 gateways >= 1.3x the single process")


def main(*, clients: int, seconds: float, server_url: str | None) -> None:
    """Run both measurements and print the figures."""
    ours, ceiling = asyncio.run(_measure(server_url or DEFAULT_SERVER, clients, seconds))
    print(f"exchange bench api: {clients} concurrent signed clients over HTTP, persistence on, {seconds:.0f} s each")
    print(
        f"  exchange  POST /api/v1/order: {ours.rate:8.0f} orders/s   p50 {ours.percentile(50):6.2f} ms"
        f"   p99 {ours.percentile(99):6.2f} ms   ({ours.requests} requests, {ours.errors} errors)"
    )
    print(
        f"  ceiling   bare Starlette JSON: {ceiling.rate:8.0f} req/s      p50 {ceiling.percentile(50):6.2f} ms"
        f"   p99 {ceiling.percentile(99):6.2f} ms"
    )
    print(f"  ratio     exchange / ceiling:  {ours.rate / ceiling.rate:.2f}")
