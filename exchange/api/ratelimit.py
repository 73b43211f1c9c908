"""Rate limits per key (per client IP, per API key), counted by the `limits` library.

A limit of `rate` requests per second with bursts of `burst` is a moving window of
`burst` requests per `ceil(burst / rate)` seconds (`limits` counts windows in whole
seconds): a client may send `burst` requests at once and never more than `burst` within
one window, so its sustained rate is at most `rate`, exactly `rate` when `burst / rate`
is whole (as the defaults are). A request past the window's count is refused with 429
TOO_MANY_REQUESTS and a `Retry-After` of the seconds until the window's oldest request
leaves it. `rate` <= 0 disables the limit.

Where the windows live is the storage's choice (`exchange.api.shared` picks it):
- this process's memory, `limits.storage.MemoryStorage` with the synchronous strategy.
  (The asyncio `MemoryStorage` sweeps expired entries through a thread hop per key after
  every hit, several times the cost of the hit itself; the synchronous one sweeps in
  one timer thread and holds no await.)
- Redis, `limits.aio.storage.RedisStorage`: one Lua script per hit, so every gateway
  charges the same window. A Redis that does not answer makes the request 503
  (`SharedStateUnavailableError`), never an unlimited pass.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as SharedWindows
from limits.errors import StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter as LocalWindows
from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.api.errors import SharedStateUnavailableError, error_response, retry_after, unavailable_response
from exchange.protocol.codes import ApiError, Code


class RateLimiter:
    """Moving windows keyed by a string, named `name` in their storage (see the module docstring)."""

    def __init__(
        self, rate: float, burst: float, storage: MemoryStorage | RedisStorage | None = None, *, name: str = "key"
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._item = None
        self._local: LocalWindows | None = None
        self._shared: SharedWindows | None = None
        if rate <= 0:
            return
        self._item = RateLimitItemPerSecond(max(1, int(burst)), max(1, math.ceil(burst / rate)), namespace=name)
        if isinstance(storage, RedisStorage):
            self._shared = SharedWindows(storage)
        else:
            self._local = LocalWindows(storage or MemoryStorage())

    async def check(self, key: str) -> None:
        """Charge one request to `key`; 429 TOO_MANY_REQUESTS with Retry-After if its window is full."""
        item = self._item
        if item is None:
            return
        if self._local is not None:
            if self._local.hit(item, key):
                return
            reset = self._local.get_window_stats(item, key).reset_time
        else:
            assert self._shared is not None
            try:
                if await self._shared.hit(item, key):
                    return
                reset = (await self._shared.get_window_stats(item, key)).reset_time
            except StorageError as error:
                raise SharedStateUnavailableError(f"the shared rate limits (Redis) did not answer: {error}") from None
        raise ApiError(429, Code.TOO_MANY_REQUESTS, "Too many requests", retry_after(reset - time.time()))


class IpRateLimitMiddleware:
    """ASGI middleware charging each HTTP request to its client IP's window (429 when full, 503 if unknowable).

    Requests for the `exempt` paths (the health probes) are never charged.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, exempt: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.limiter = limiter
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.exempt:
            client = scope.get("client")
            try:
                await self.limiter.check(client[0] if client else "unknown")
            except ApiError as refused:
                await error_response(refused.status, refused.code, refused.message, refused.headers)(
                    scope, receive, send
                )
                return
            except SharedStateUnavailableError as error:
                await unavailable_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
