"""Token-bucket rate limits, one bucket per key (per client IP, per API key).

A bucket holds at most `burst` tokens and refills at `rate` tokens per second; each
request takes one. When a bucket is empty the request is refused with 429
TOO_MANY_REQUESTS and a `Retry-After` of the seconds until a token is back. The
clock is passed in, so the arithmetic is testable without sleeping.

Buckets that have been idle long enough to be full again carry no information, so
when the table grows past `max_keys` those are dropped; memory stays bounded under a
flood of distinct IPs while every active client keeps its exact state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.api.errors import error_response, retry_after
from exchange.protocol.codes import ApiError, Code


class RateLimiter:
    """Token buckets keyed by a string; `rate` <= 0 disables limiting."""

    def __init__(
        self, rate: float, burst: float, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def wait_time(self, key: str) -> float:
        """Take a token for `key`: 0.0 if granted, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > self._max_keys:
            self._evict(now)
        return 0.0

    def check(self, key: str) -> None:
        """Take a token or raise 429 TOO_MANY_REQUESTS with Retry-After."""
        wait = self.wait_time(key)
        if wait:
            raise ApiError(429, Code.TOO_MANY_REQUESTS, "Too many requests", retry_after(wait))

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


class IpRateLimitMiddleware:
    """ASGI middleware charging every HTTP request to its client IP's bucket (429 when empty)."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            wait = self.limiter.wait_time(client[0] if client else "unknown")
            if wait:
                response = error_response(429, Code.TOO_MANY_REQUESTS, "Too many requests", retry_after(wait))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
