"""Token buckets: burst, refill, Retry-After."""

from __future__ import annotations

import pytest

from exchange.api.ratelimit import RateLimiter
from exchange.protocol.codes import ApiError


def test_bucket_allows_a_burst_then_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 3.0, clock=lambda: now[0])
    assert [limiter.wait_time("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_time("a") == pytest.approx(0.5)
    assert limiter.wait_time("b") == 0.0
    now[0] = 0.5
    assert limiter.wait_time("a") == 0.0
    with pytest.raises(ApiError) as info:
        limiter.check("a")
    assert (info.value.status, info.value.code, info.value.headers) == (429, "TOO_MANY_REQUESTS", {"Retry-After": "1"})


def test_idle_buckets_are_evicted() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 1.0, max_keys=2, clock=lambda: now[0])
    limiter.wait_time("a")
    now[0] = 10.0
    limiter.wait_time("b")
    limiter.wait_time("c")
    assert limiter.wait_time("b") > 0
    assert limiter.wait_time("a") == 0.0


def test_zero_rate_disables() -> None:
    limiter = RateLimiter(0, 0)
    assert all(limiter.wait_time("a") == 0.0 for _ in range(1000))
