"""`exchange bench redis`: the engine's own capacity over Redis, without HTTP.

A producer (this process) writes what gateways write once they have verified a
request's signature and parsed it, the engine's command records (the deterministic
`exchange bench persist` workload: listings, deposits, then a crossing-heavy order
flow), straight into the transport through a `RemoteEngine`, keeping `window` commands
in flight, and waits for each committed reply. The engine is a real `exchange serve
--role engine` process over a scratch database. Reported: durable commands/s and
orders/s, reply latency p50/p99, and the CPU seconds each process used while timed
(producer, engine, Redis, the PostgreSQL backends serving the engine), and from the
engine's CPU seconds per order the rate one core of its own would carry: on a shared,
busy machine the wall-clock rate says more about the neighbours than about the engine.

The ceiling beside it, in the same run: the same commands submitted with the same window
straight to an in-process `EngineActor` committing through the same `Writer` into
another scratch database, no Redis: the difference is what the transport costs.

Redis: `--redis-url`, else a private `redis-server` on a free port without persistence,
so the benchmark never touches a deployment's keys.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from exchange.bench import DEFAULT_SERVER
from exchange.bench.api import _free_port
from exchange.bench.cpu import CpuMeter
from exchange.bench.persist import scratch_writer, workload
from exchange.engine.actor import EngineActor
from exchange.engine.commands import AddAsset, AddMarket, Command, Deposit, PlaceOrder
from exchange.engine.engine import Engine
from exchange.persistence.database import backend_pids, scratch_database
from exchange.transport import EnginePort
from exchange.transport.redis import RemoteEngine, connected

SETUP = (AddAsset, AddMarket, Deposit)


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run: commands and orders made durable, seconds, per-command latencies."""

    commands: int
    orders: int
    seconds: float
    latencies: list[float]

    def percentile(self, p: int) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, len(ordered) * p // 100)] * 1000

    def line(self, name: str) -> str:
        return (
            f"  {name:<9} {self.orders / self.seconds:8,.0f} orders/s durable  "
            f"({self.commands / self.seconds:,.0f} commands/s)   "
            f"reply p50 {self.percentile(50):6.2f} ms   p99 {self.percentile(99):6.2f} ms"
        )


async def drive(engine: EnginePort, commands: Sequence[Command], window: int) -> Run:
    """Submit the setup commands one by one, then time the rest with `window` in flight."""
    setup = [command for command in commands if isinstance(command, SETUP)]
    timed = [command for command in commands if not isinstance(command, SETUP)]
    for command in setup:
        await engine.submit(command)
    pending = iter(timed)
    latencies: list[float] = []

    async def worker() -> None:
        for command in pending:
            started = time.perf_counter()
            await engine.submit(command)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(window)))
    seconds = time.perf_counter() - started
    orders = sum(isinstance(command, PlaceOrder) for command in timed)
    return Run(commands=len(timed), orders=orders, seconds=seconds, latencies=latencies)


@contextmanager
def private_redis() -> Iterator[tuple[str, int]]:
    """A `redis-server` without persistence on a free port: its URL and pid."""
    port = _free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def engine_process(database_url: str, redis_url: str) -> Iterator[int]:
    """`exchange serve --role engine` over `database_url`, ready; its pid."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EXCHANGE_ROLE": "engine",
        "EXCHANGE_ENGINE_TIMEOUT": "60",
        "EXCHANGE_LOG_LEVEL": "WARNING",
        "PORT": str(port),
    }
    for name in ("EXCHANGE_DEMO", "EXCHANGE_BOTS", "EXCHANGE_STANDBY"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-c", "from exchange.cli import main; main()", "serve"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the engine did not start")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def over_redis(
    commands: Sequence[Command], window: int, server_url: str, redis_url: str, redis_pid: int | None
) -> tuple[Run, dict[str, float]]:
    """The commands through Redis to an engine process; the run and each process's CPU seconds."""
    async with scratch_database(server_url, prefix="exchange_bench_redis") as database_url:
        with engine_process(database_url, redis_url) as engine_pid:
            async with connected(redis_url) as redis:
                remote = RemoteEngine(redis, timeout=60)
                async with remote.running():
                    while not remote.ready:
                        await asyncio.sleep(0.05)
                    postgres = await backend_pids(database_url)
                    groups = {"producer": [os.getpid()], "engine": [engine_pid], "postgres": postgres}
                    if redis_pid is not None:
                        groups["redis"] = [redis_pid]
                    meter = CpuMeter(groups)
                    meter.start()
                    run = await drive(remote, commands, window)
                    meter.stop()
    return run, meter.used


async def in_process(commands: Sequence[Command], window: int, server_url: str) -> tuple[Run, float]:
    """The ceiling: the same commands to an in-process actor committing through the same writer; its CPU seconds."""
    async with scratch_writer(server_url, "exchange_bench_redis") as (_, writer):

        async def reload() -> Engine:
            raise RuntimeError("the benchmark's commits do not fail")

        actor = EngineActor(commit=writer.commit, publish=lambda events: None, reload=reload)
        await actor.start(Engine())
        try:
            meter = CpuMeter({"engine": [os.getpid()]})
            meter.start()
            run = await drive(actor, commands, window)
            meter.stop()
            return run, meter.used["engine"]
        finally:
            await actor.stop()


def main(*, orders: int, window: int, seed: int, server_url: str | None, redis_url: str | None) -> None:
    """Run both measurements and print the figures."""
    commands = list(workload(seed, orders))
    server = server_url or DEFAULT_SERVER
    print(f"exchange bench redis: {orders:,} order commands, {window} in flight, persistence on")
    if redis_url is None:
        with private_redis() as (url, pid):
            run, cpu = asyncio.run(over_redis(commands, window, server, url, pid))
    else:
        run, cpu = asyncio.run(over_redis(commands, window, server, redis_url, None))
    ceiling, ceiling_cpu = asyncio.run(in_process(commands, window, server))
    print(run.line("redis"))
    print(ceiling.line("ceiling") + "   (in-process actor, same writer, no Redis)")
    print(f"  ratio     redis / ceiling: {run.orders / run.seconds / (ceiling.orders / ceiling.seconds):.2f}")
    print(
        "  CPU while timed: "
        + ", ".join(f"{name} {seconds / run.seconds:.0%} of a core" for name, seconds in cpu.items())
        + " (postgres: the backends of the engine's connections)"
    )
    print("  CPU per order: " + ", ".join(f"{name} {used / run.orders * 1e6:.0f} µs" for name, used in cpu.items()))
    engine_cpu, alone_cpu = cpu["engine"] / run.orders, ceiling_cpu / ceiling.orders
    print(
        f"  engine CPU per order: {engine_cpu * 1e6:.0f} µs over Redis ({alone_cpu * 1e6:.0f} µs in process, "
        f"producer included), so a core of its own would carry about {1 / engine_cpu:,.0f} orders/s"
    )
    print("  target: >= 10,000 orders/s durable through Redis")
