"""Garbage collection without long pauses: survivors of a full collection are frozen, and swept rarely.

Why. CPython's cycle collector stops the process for as long as a collection of the
oldest generation takes, and that is proportional to the objects tracked there, not
to the garbage. Each websocket connection keeps ~140 tracked objects alive for its
whole life (uvicorn's protocol, the sans-I/O parser, the ASGI coroutine chain, the
hub's client and its tasks), so with 1,000 clients a full collection scans ~140,000
objects and stops the event loop ~90 ms, every few seconds under order flow (the
oldest generation is collected once 25% more objects were promoted into it, and
short-lived objects that outlive two young collections count too).

Policy. After every full collection, `gc.freeze()` moves its survivors into the
permanent generation, which collections do not scan. The next full collection then
scans only what was promoted since the last one. CPython would still let that grow
(it collects the oldest generation once 25% more objects were promoted than survived
the last full collection, and under order flow resting orders keep surviving), so a
full collection also runs every `collect_seconds` (1 s): each one scans about a
second's worth of survivors (~1-2 ms), then freezes them. Reference counting still frees frozen objects
that are not in cycles (a closed connection frees itself: `Streams.serve` and
`StreamProtocol` break their cycles on close, leaving ~5 objects of asyncio's own
transport cycle per connection). Cycles among frozen objects are reclaimed by the
sweep: every `sweep_seconds`, `gc.unfreeze()`, a full `gc.collect()`, and
`gc.freeze()` again; that one collection pauses as long as a plain full collection
would (~90 ms per 1,000 connected clients), once per interval instead of every few
seconds, and it bounds the memory of uncollected cycles to what one interval produces.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

SWEEP_SECONDS = 600.0
COLLECT_SECONDS = 1.0


def _freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def sweep() -> int:
    """Collect everything, frozen objects included, then freeze the survivors; how many objects were freed."""
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    return collected


async def _collect_and_sweep(collect_seconds: float, sweep_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    swept = loop.time()
    while True:
        await asyncio.sleep(collect_seconds)
        if loop.time() - swept >= sweep_seconds:
            sweep()
            swept = loop.time()
        else:
            gc.collect()


@asynccontextmanager
async def freezing_survivors(
    sweep_seconds: float = SWEEP_SECONDS, collect_seconds: float = COLLECT_SECONDS
) -> AsyncIterator[None]:
    """Apply the policy of the module docstring while the context is open (startup's state is frozen at once)."""
    sweep()
    gc.callbacks.append(_freeze_survivors)
    sweeper = asyncio.create_task(_collect_and_sweep(collect_seconds, sweep_seconds), name="gc-sweep")
    try:
        yield
    finally:
        sweeper.cancel()
        gc.callbacks.remove(_freeze_survivors)
