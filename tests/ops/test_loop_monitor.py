"""The loop monitor behind `exchange_event_loop_stall_seconds`: a blocked loop shows, by wall and CPU clock, once."""

from __future__ import annotations

import asyncio
import time

from exchange.observability import LOOP_STALL, monitoring_loop


def scrape() -> tuple[float, float]:
    """The (wall, cpu) stalls as one scrape reads them (reading starts both over)."""
    samples = {sample.labels["clock"]: sample.value for sample in next(iter(LOOP_STALL.collect())).samples}
    return samples["wall"], samples["cpu"]


def test_a_blocked_loop_is_reported_by_both_clocks_and_each_scrape_starts_over() -> None:
    async def scenario() -> None:
        async with monitoring_loop():
            await asyncio.sleep(0.01)
            scrape()
            time.sleep(0.03)  # blocked without working: wall time only
            await asyncio.sleep(0.01)
            wall, cpu = scrape()
            assert wall >= 0.028 and cpu < 0.02  # the overshoot past the 1 ms asked for
            spinning = time.thread_time()
            while time.thread_time() - spinning < 0.03:  # blocked by work: both clocks
                pass
            await asyncio.sleep(0.01)
            wall, cpu = scrape()
            assert cpu >= 0.03 and wall >= 0.028
            await asyncio.sleep(0.05)
            assert scrape()[1] < 0.02

    asyncio.run(scenario())
