"""Rate limits over `limits`' memory storage: burst, window, Retry-After, and off at rate 0.

The library reads the wall clock itself, so these tests wait out real (one- and
two-second) windows.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from exchange.api.ratelimit import RateLimiter
from exchange.protocol.codes import ApiError


async def outcomes(limiter: RateLimiter, key: str, count: int) -> list[str]:
    """ "ok" or "429 <Retry-After>" for each of `count` requests charged to `key`."""
    seen = []
    for _ in range(count):
        try:
            await limiter.check(key)
            seen.append("ok")
        except ApiError as error:
            assert (error.status, error.code) == (429, "TOO_MANY_REQUESTS")
            seen.append(f"429 {error.headers['Retry-After']}")
    return seen


def test_a_burst_is_allowed_then_refused_with_retry_after_until_the_window_moves() -> None:
    async def run() -> None:
        limiter = RateLimiter(2.0, 4.0)  # 4 per 2 s
        assert await outcomes(limiter, "a", 5) == ["ok"] * 4 + ["429 2"]
        assert await outcomes(limiter, "b", 1) == ["ok"]
        await asyncio.sleep(2.05)
        assert await outcomes(limiter, "a", 5) == ["ok"] * 4 + ["429 2"]

    asyncio.run(run())


def test_the_window_is_whole_seconds_and_keeps_the_burst() -> None:
    async def run() -> None:
        limiter = RateLimiter(5.0, 12.0)  # 12 per ceil(2.4) = 3 s
        started = time.time()
        assert await outcomes(limiter, "a", 13) == ["ok"] * 12 + ["429 3"]
        await asyncio.sleep(started + 2.5 - time.time())
        assert (await outcomes(limiter, "a", 1))[0].startswith("429")

    asyncio.run(run())


def test_the_ip_and_the_key_windows_of_one_storage_are_apart() -> None:
    async def run() -> None:
        from limits.storage import MemoryStorage

        storage = MemoryStorage()
        ip, key = RateLimiter(1, 1, storage, name="ip"), RateLimiter(1, 1, storage, name="key")
        assert await outcomes(ip, "same", 2) == ["ok", "429 1"]
        assert await outcomes(key, "same", 2) == ["ok", "429 1"]

    asyncio.run(run())


@pytest.mark.parametrize("rate", [0, -1])
def test_a_rate_of_zero_or_less_disables(rate: float) -> None:
    assert asyncio.run(outcomes(RateLimiter(rate, 0), "a", 1000)) == ["ok"] * 1000
