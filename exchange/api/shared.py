"""The state that every gateway must see alike: rate limits, accepted signatures, key revocations.

`SharedState.of(settings)` keeps it in this process's memory when no `REDIS_URL` is set
(one process: the default, nothing shared, nothing slower), or in Redis, one store for
every gateway of the exchange:

- rate limits per IP and per key: `limits`' Redis storage (`exchange.api.ratelimit`), so
  a client is charged the same window whichever gateway it reaches;
- the replay cache (`exchange.api.auth`): `SET exchange:replay:<signature> NX PX` for the
  signature's window plus the margin, so a signature accepted by one gateway is refused
  by every other;
- revocations: a mark, `exchange:revocations`, that every revocation replaces with fresh
  random bytes once the database has committed it and before the revoke is answered.
  Each gateway reads the mark at every lookup of a key and drops its whole cache of keys
  when the mark is not the one its cache was filled under; a key is cached only if the
  mark did not change while the database was read. So a request that reaches any gateway
  after a revoke was answered is checked against the database. The mark is random, not a
  counter, so a Redis that restarted empty cannot bring an old value back: a gateway
  that finds no mark sets a fresh one (`SET NX`), unlike every cache's, so a revocation
  lost with Redis's memory still empties every cache. Why a mark read per request rather
  than a message to every gateway: it needs no list of live gateways nor waiting on their
  acknowledgements, is right even for a gateway that was cut off when the revoke
  happened, and costs little (below). Revocations are rare; after one, each gateway reads
  each active key from the database once more.

  A private websocket subscription, though, is checked once, when it is made: what ends
  it is an announcement. In the same transaction as the mark, the revoked key is added
  to the Stream `exchange:revoked`; every gateway's event relay
  (`exchange.transport.redis.EventRelay`) reads it in the same XREAD as the engine's
  events and ends the subscriptions the key signed before it relays the events of that
  read. A Stream, not pub/sub, for two reasons. Order: an event committed after the
  revoke was answered was added to the event stream after the announcement, so the read
  that returns it returns the announcement too, or an earlier read did: no such event
  reaches a subscription the key signed, on any gateway, and the revoke waits for no
  gateway's acknowledgement. And a gateway cut off from Redis reads on where it stood
  when it is back. What a Stream cannot cover (Redis restarted empty, entries trimmed
  past `ANNOUNCED_KEPT` while a gateway was away) the mark covers: after every
  reconnection the relay has the gateway look up once more each key that signed a live
  subscription (`Streams.recheck_keys`), through the cache the mark guards, and end
  those revoked.

The hot path is batched. The mark reads and the replay checks of all of a gateway's
requests (and its commands' XADDs to the engine inbox, `exchange.transport.redis`) go
through one `exchange.transport.batch.TurnBatch`: one pipeline in flight at a time,
carrying whatever the requests queued meanwhile. The mark is read once per pipeline,
shared by every request waiting on it, and always by a read sent after the request
arrived, so a request never relies on a mark older than itself. For a key in the cache
the mark read and the replay check leave together (`exchange.api.auth.Verifier`), so a
signed request costs Redis one SET NX and a share of one GET, in one round trip it
shares with the other requests, instead of a round trip of its own for each.

Failure: a Redis that refuses, drops or does not answer within `REDIS_TIMEOUT` makes the
request that needed it a 503 SERVICE_UNAVAILABLE with Retry-After
(`SharedStateUnavailableError`): no request is let through unlimited, unchecked for a
replay or against a revocation. The batch never retries (its pipelines carry commands,
which run at most once); the limits and the mark's writes retry once, immediately, on a
fresh connection. The clients reconnect by themselves once Redis is back.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from limits.aio.storage import RedisStorage
from limits.storage import MemoryStorage
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from exchange.api.auth import MemoryReplayCache, ReplayCache
from exchange.api.errors import SharedStateUnavailableError
from exchange.api.ratelimit import RateLimiter
from exchange.config import ConfigError, Settings
from exchange.transport.batch import TurnBatch

REDIS_TIMEOUT = 1.0  # float-ok: seconds to connect to Redis or to have one answer
PREFIX = "exchange:"
"""Every key the exchange writes in Redis starts with it."""

T = TypeVar("T")


class Revocations(Protocol):
    """A mark that changes whenever any key is revoked (see the module docstring)."""

    def mark(self) -> Coroutine[Any, Any, object]:
        """The current mark, read from the moment of the call (a shared store queues the read then)."""
        ...

    async def revoked(self, public_key: str) -> None:
        """Change the mark (and announce `public_key` to every gateway): its revocation has committed."""
        ...


class MemoryRevocations:
    """The in-process `Revocations`: a counter."""

    def __init__(self) -> None:
        self._count = 0

    async def mark(self) -> object:
        """The number of revocations so far."""
        return self._count

    async def revoked(self, public_key: str) -> None:
        """Count one more (this process's streams hear of the key from the `Api`)."""
        self._count += 1


class RedisRevocations:
    """`Revocations` shared through Redis: random bytes, replaced at each revocation."""

    KEY = PREFIX + "revocations"
    ANNOUNCED = PREFIX + "revoked"
    """The Stream of revoked public keys (field `k`), read by every gateway's event relay."""
    ANNOUNCED_KEPT = 10_000

    def __init__(self, redis: Redis, batch: TurnBatch) -> None:
        self._redis = redis
        self._batch = batch

    def mark(self) -> Coroutine[Any, Any, object]:
        """The mark in Redis, read in the batch's next pipeline (queued now); a fresh one if Redis has none."""
        return self._or_fresh(self._batch.read("GET", self.KEY))

    async def _or_fresh(self, reading: Awaitable[object]) -> object:
        """The mark read, or, if Redis has none (it was never set, or Redis lost it), a fresh one set now."""
        mark = await reaching(reading)
        if mark is not None:
            return mark
        fresh = secrets.token_bytes(16)
        previous: object = await reaching(self._redis.set(self.KEY, fresh, nx=True, get=True))
        return fresh if previous is None else previous

    async def revoked(self, public_key: str) -> None:
        """Replace the mark and announce the key, in one transaction (see the module docstring)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self.KEY, secrets.token_bytes(16))
            pipe.xadd(self.ANNOUNCED, {"k": public_key}, maxlen=self.ANNOUNCED_KEPT, approximate=True)
            await reaching(pipe.execute())


class RedisReplayCache:
    """The `ReplayCache` in Redis: one key per signature, expiring with it."""

    def __init__(self, batch: TurnBatch) -> None:
        self._batch = batch

    def first_use(self, signature: bytes, expires_at: float) -> Coroutine[Any, Any, bool]:
        """`SET NX` the signature until `expires_at`, in the batch's next pipeline (queued now); False if it was set."""
        ttl_ms = max(1, int((expires_at - time.time()) * 1000))
        key = PREFIX.encode() + b"replay:" + signature
        return _was_set(self._batch.call("SET", key, b"", "NX", "PX", ttl_ms))


async def _was_set(reply: Awaitable[object]) -> bool:
    """Whether a `SET NX` set its key."""
    return bool(await reaching(reply))


async def reaching(call: Awaitable[T]) -> T:
    """Await a Redis call; its failure is a `SharedStateUnavailableError` (503)."""
    try:
        return await call
    except RedisError as error:
        raise SharedStateUnavailableError(f"the shared state (Redis) did not answer: {error}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedState:
    """The limiters, the replay cache and the revocation mark, in memory or in one Redis."""

    ip_limiter: RateLimiter
    key_limiter: RateLimiter
    replays: ReplayCache
    revocations: Revocations
    redis: Redis | None = None
    batch: TurnBatch | None = None
    """The hot path's pipeline (mark reads, replay checks, and a gateway's inbox XADDs), on a client of its own."""

    @staticmethod
    def of(settings: Settings) -> SharedState:
        """In memory without `settings.redis_url`, else in that Redis (connected at first use)."""
        url = settings.redis_url
        if url is None:
            memory = MemoryStorage()
            return SharedState(
                ip_limiter=RateLimiter(settings.ip_rate_limit, settings.ip_rate_burst, memory, name="ip"),
                key_limiter=RateLimiter(settings.key_rate_limit, settings.key_rate_burst, memory, name="key"),
                replays=MemoryReplayCache(),
                revocations=MemoryRevocations(),
            )
        if not url.startswith(("redis://", "rediss://")):
            raise ConfigError(
                f"bad configuration: REDIS_URL must be a redis:// or rediss:// URL, got {url.partition(':')[0]}://"
            )
        redis = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT, retry=Retry(NoBackoff(), 1)
        )
        storage = RedisStorage(
            f"async+{url}",
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix=PREFIX + "limits",
            connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # documented; typed too narrowly
        )
        batch = TurnBatch(Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT))
        return SharedState(
            ip_limiter=RateLimiter(settings.ip_rate_limit, settings.ip_rate_burst, storage, name="ip"),
            key_limiter=RateLimiter(settings.key_rate_limit, settings.key_rate_burst, storage, name="key"),
            replays=RedisReplayCache(batch),
            revocations=RedisRevocations(redis, batch),
            redis=redis,
            batch=batch,
        )

    async def answers(self) -> bool:
        """Whether the shared state can be reached now (in memory: always; else Redis answers PING)."""
        if self.redis is None:
            return True
        try:
            return bool(await self.redis.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        if self.redis is not None:
            await self.redis.aclose()
        if self.batch is not None:
            await self.batch.stop()
            await self.batch.redis.aclose()
