"""`exchange bench latency`: what one order costs a lone trader, beside the floors it cannot beat.

Traders, bots and the web page mostly send one order at a time, so the latency of a
lone, durable, signed order is what they feel. The exchange runs as in `bench api`
(the real app under uvicorn in its own process, a scratch database): 1 and then 4
signed clients, each on its own keep-alive connection, send limit orders back to back.

The floors, measured in the same run on the same machine and database server:

- a bare single-row commit: one asyncpg connection inserting one row per statement in
  autocommit (fsync on, as the exchange's commits), what durability alone costs
  (`exchange.persistence.floors.CommitFloor`);
- a bare HTTP round trip: the `bench api` ceiling app (Starlette + uvicorn, no
  signature, engine or database), what the web stack alone costs.

Then where one order's time goes, read from the server's own stage histograms
(`exchange_order_stage_seconds`, observed on every order) over the one-client run:
parse and verify, queue, engine, writer build, commit, reply, fan-out.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from pathlib import Path

import httpx

from exchange.api.auth import KeyPair
from exchange.bench import DEFAULT_SERVER
from exchange.bench.api import Run, _free_port, _order_maker, _setup, _start, _stop, load, server_env
from exchange.persistence.database import scratch_database
from exchange.persistence.floors import CommitFloor


def percentile(samples: list[float], p: float) -> float:
    """The `p`th percentile (0 < p < 100, fractions allowed) in milliseconds."""
    return statistics.quantiles(samples, n=1000)[round(p * 10) - 1] * 1000


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stages(metrics: str) -> dict[str, tuple[float, int]]:
    """(total seconds, count) per stage from a Prometheus text scrape."""
    found: dict[str, list[float]] = {}
    for line in metrics.splitlines():
        for suffix in ("_sum", "_count"):
            prefix = f'exchange_order_stage_seconds{suffix}{{stage="'
            if line.startswith(prefix):
                stage = line[len(prefix) : line.index('"', len(prefix))]
                found.setdefault(stage, [0.0, 0.0])[suffix == "_count"] = float(line.rsplit(" ", 1)[1])
    return {stage: (total, int(count)) for stage, (total, count) in found.items()}


async def _measure(server_url: str, seconds: float, rounds: int = 5) -> None:
    async with scratch_database(server_url, prefix="exchange_bench_latency") as database_url:
        floor = await CommitFloor.open(database_url)
        admin = KeyPair.generate()
        port, bare_port = _free_port(), _free_port()
        server = _start("serve_exchange", port, server_env(database_url, admin))
        bare = _start("serve_bare", bare_port, {})
        try:
            keys = await asyncio.to_thread(_setup, f"http://127.0.0.1:{port}", admin, 4)
            commits: list[float] = []
            http, one = Run(0, 0, 0.0, []), Run(0, 0, 0.0, [])
            async with httpx.AsyncClient() as client:
                before = stages((await client.get(f"http://127.0.0.1:{port}/metrics")).text)
                cpu = cpu_seconds(server.pid)
                for _ in range(rounds):  # interleaved, so the floors and the orders share the machine's moods
                    commits += await floor.latencies(seconds / rounds)
                    http += await load(bare_port, [lambda n: (b'{"symbol":"SOL_USDC"}', {})], seconds / rounds)
                    one += await load(port, [_order_maker(keys[0], 0)], seconds / rounds)
                cpu = cpu_seconds(server.pid) - cpu
                after = stages((await client.get(f"http://127.0.0.1:{port}/metrics")).text)
            four = await load(port, [_order_maker(k, i) for i, k in enumerate(keys)], seconds)
        finally:
            _stop(server)
            _stop(bare)
            await floor.close()
    commit_p50, commit_p99 = percentile(commits, 50), percentile(commits, 99)
    print(f"exchange bench latency: signed durable orders beside the floors, {seconds:.0f} s each, interleaved")
    print(
        f"  floor   bare single-row commit:  p50 {commit_p50:6.2f} ms  p99 {commit_p99:6.2f} ms"
        f"  p99.9 {percentile(commits, 99.9):6.2f} ms  ({len(commits)} commits)"
    )
    print(
        f"  floor   bare HTTP round trip:    p50 {percentile(http.latencies, 50):6.2f} ms"
        f"  p99 {percentile(http.latencies, 99):6.2f} ms  p99.9 {percentile(http.latencies, 99.9):6.2f} ms"
    )
    for clients, run in ((1, one), (4, four)):
        print(
            f"  orders  {clients} client{'s' if clients > 1 else ' '}:"
            f"                p50 {percentile(run.latencies, 50):6.2f} ms  p99 {percentile(run.latencies, 99):6.2f} ms"
            f"  p99.9 {percentile(run.latencies, 99.9):6.2f} ms  {run.rate:7.0f} orders/s  ({run.errors} errors)"
        )
    print(
        f"  ratio   1 client / bare commit:  p50 {percentile(one.latencies, 50) / commit_p50:.2f}"
        f"  p99 {percentile(one.latencies, 99) / commit_p99:.2f}"
    )
    orders = max(1, after.get("parse_verify", (0.0, 0))[1] - before.get("parse_verify", (0.0, 0))[1])
    parts = [
        f"{stage} {(total - before.get(stage, (0.0, 0))[0]) / orders * 1e6:.0f}" for stage, (total, _) in after.items()
    ]
    print(
        f"  stages  µs per order, means over the 1-client run's {orders} orders (latency mean"
        f" {statistics.fmean(one.latencies) * 1e6:.0f}, server CPU {cpu / one.requests * 1e6:.0f}): " + ", ".join(parts)
    )


def main(*, seconds: float, server_url: str | None) -> None:
    """Measure and print."""
    asyncio.run(_measure(server_url or DEFAULT_SERVER, seconds))
