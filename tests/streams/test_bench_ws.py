"""`exchange bench ws` runs end to end at a small size: every phase delivers, nobody is dropped (no timing asserted)."""

from __future__ import annotations

import asyncio

from exchange.bench.ws import _run, _run_split
from tests.support.databases import SERVER_URL


def test_the_websocket_benchmark_runs_every_phase_at_a_small_size() -> None:
    figures = asyncio.run(_run(SERVER_URL, clients=20, seconds=1.0, rest_clients=2, rest_rate=100, window=50))
    for phase in (figures.fanout, figures.under_rest, figures.ceiling):
        assert phase["frames"] > 0 and phase["closed"] == 0
        assert phase["frames"] <= 20 * (phase["events"] + 50)
    assert figures.fanout["orders"] > 0 and figures.rest.requests > 0 and figures.rest.errors == 0
    assert figures.broadcasts > 0 and figures.fanout_probe["stall_ms"] >= 0


def test_the_websocket_benchmark_runs_over_two_gateways_and_reads_the_engines_stall() -> None:
    figures = asyncio.run(
        _run_split(SERVER_URL, clients=20, seconds=1.0, rest_clients=2, rest_rate=100, window=50, gateways=2)
    )
    for phase in (figures.fanout, figures.under_rest, figures.ceiling):
        assert phase["closed"] == 0 and len(phase["frames_by_port"]) == 2 and all(phase["frames_by_port"])
    for phase in (figures.fanout, figures.under_rest):  # one stream on both gateways (each bare server has its own)
        assert phase["frames"] <= 20 * (phase["events"] + 50)
    assert figures.fanout["orders"] > 0 and figures.rest.requests > 0 and figures.rest.errors == 0
    assert figures.fanout_probe["stall_cpu_ms"] > 0 and figures.rest_probe["stall_ms"] > 0
    assert {"engine", "gateway 1", "gateway 2", "redis", "postgres", "clients"} <= set(figures.fanout_cpu)
