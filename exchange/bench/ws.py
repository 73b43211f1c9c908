"""`exchange bench ws`: websocket fan-out to 1,000 clients while orders flow, against a bare `broadcast()`.

Processes. The exchange runs as `exchange serve` does in its own process, on a scratch
database, with a probe of its event loop's longest stall and of its GC pauses; the
1,000 clients run in a second process, which also drives the orders of the streamed
market, so it knows how far behind its clients are. Both, and the ceiling's bare
server, are in `exchange.bench.ws_processes`; this module starts them (`Child`), runs
the phases by asking them, and prints the figures.

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
import json
import os
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
from prometheus_client.parser import text_string_to_metric_families

from exchange.api.auth import KeyPair
from exchange.bench import DEFAULT_SERVER, ws_processes
from exchange.bench.api import (
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
from exchange.bench.ws_processes import STREAMS
from exchange.protocol import endpoints

PROCESSES = ws_processes.__name__
"""The module of the processes this benchmark starts."""


# -- the child processes ---------------------------------------------------------------


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
            bare.append(stack.enter_context(child(f"from {PROCESSES} import serve_bare; serve_bare({port})", port)))
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

    with child(f"from {PROCESSES} import run_clients; run_clients()") as fleet, _frames_file() as frames_file:
        async with scratch_database(server_url, prefix="exchange_bench_ws") as database_url:
            admin, port = KeyPair.generate(), _free_port()
            env = {**server_env(database_url, admin), "EXCHANGE_WS_MAX_CONNECTIONS_PER_IP": str(clients * 2)}
            code = f"from {PROCESSES} import serve_probed; serve_probed({port})"
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

    with child(f"from {PROCESSES} import run_clients; run_clients()") as fleet, _frames_file() as frames_file:
        async with scratch_database(server_url, prefix="exchange_bench_ws") as database_url:
            admin = KeyPair.generate()
            env = {"EXCHANGE_WS_MAX_CONNECTIONS_PER_IP": str(clients * 2), "EXCHANGE_LOOP_MONITOR": "true"}
            async with split_exchange(database_url, admin, gateways, env, PROCESSES) as split:
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
