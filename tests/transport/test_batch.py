"""`TurnBatch` against a private redis-server (its command counts are ours alone, and it can be killed).

- Commands queued in one event-loop turn travel in one pipeline, each caller getting its own reply;
  an error reply fails only its own caller.
- A read queued twice before its pipeline leaves is sent once; a read queued while a pipeline is in
  flight is never answered by that pipeline (it sees what Redis holds after it was asked).
- A Redis that is gone fails every command waiting in the pipeline; once it is back, the batch works again.
- Signed requests on cached keys (`Api`'s verifier over the Redis shared state) cost one pipeline
  for all of a turn: each one's mark read and replay check travel together; a key revoked meanwhile
  (the mark changed) is looked up again and refused; a Redis that is gone makes each a 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from exchange.api.auth import KeyPair, Principal
from exchange.api.errors import SharedStateUnavailableError
from exchange.api.ratelimit import RateLimiter
from exchange.api.service import Api
from exchange.api.shared import RedisReplayCache, RedisRevocations, SharedState
from exchange.persistence.accounts import StoredKey
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.requests import Scope
from exchange.transport.batch import TurnBatch
from tests.support.redis_server import PrivateRedis

pytestmark = pytest.mark.anyio


@pytest.fixture
def private() -> Iterator[PrivateRedis]:
    with PrivateRedis().running() as redis:
        yield redis


@asynccontextmanager
async def batch_on(url: str) -> AsyncIterator[TurnBatch]:
    batch = TurnBatch(Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1))
    try:
        yield batch
    finally:
        await batch.stop()
        await batch.redis.aclose()


async def calls(redis: Redis, command: str) -> int:
    """How many times the server ran `command` so far."""
    stats = await redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_commands_of_one_turn_share_one_pipeline_and_each_gets_its_own_reply(private: PrivateRedis) -> None:
    async with batch_on(private.url) as batch:
        replies = await asyncio.gather(
            batch.call("SET", "a", "1"), batch.call("INCR", "n"), batch.call("INCR", "n"), batch.call("GET", "a")
        )
        assert list(replies) == [True, 1, 2, b"1"]
        assert batch.pipelines == 1
        await batch.call("RPUSH", "a_list", "x")
        refused, fine = batch.call("INCR", "a_list"), batch.call("GET", "n")
        with pytest.raises(ResponseError):
            await refused
        assert await fine == b"2"
        assert batch.pipelines == 3


async def test_a_read_is_shared_until_sent_and_never_answered_by_an_older_pipeline(private: PrivateRedis) -> None:
    async with batch_on(private.url) as batch, Redis.from_url(private.url) as other:
        await other.set("mark", "old")
        before = await calls(other, "get")
        first = [batch.read("GET", "mark") for _ in range(3)]
        assert await asyncio.gather(*first) == [b"old"] * 3
        assert await calls(other, "get") == before + 1, "three readers, one GET"

        in_flight = batch.read("GET", "mark")
        slow = batch.call("BLPOP", "nothing", "0.3")  # holds this pipeline in flight for 0.3 s
        await asyncio.sleep(0.1)
        await other.set("mark", "new")
        later = batch.read("GET", "mark")  # queued while the pipeline above is in flight
        assert (await in_flight, await slow, await later) == (b"old", None, b"new")


async def test_a_redis_that_is_gone_fails_every_waiting_command_and_the_batch_resumes_when_it_is_back(
    private: PrivateRedis,
) -> None:
    async with batch_on(private.url) as batch:
        assert await batch.call("PING") is True
        private.stop()
        waiting = [batch.call("SET", "k", "v"), batch.read("GET", "k"), batch.call("INCR", "n")]
        for outcome in await asyncio.gather(*waiting, return_exceptions=True):
            assert isinstance(outcome, RedisError)
        private.start()
        assert await batch.call("INCR", "n") == 1


class Accounts:
    """The one call of the key store that looking up a key makes (unrevoked keys only), counted."""

    def __init__(self, keys: list[KeyPair]) -> None:
        self.rows = {
            pair.public_key: StoredKey(
                public_key=pair.public_key, account_id=n, scopes=("read",), created_at=0, revoked=False
            )
            for n, pair in enumerate(keys)
        }
        self.lookups = 0

    async def lookup_key(self, public_key: str) -> StoredKey | None:
        self.lookups += 1
        key = self.rows.get(public_key)
        return key if key is not None and not key.revoked else None


def signed(keys: KeyPair) -> dict[str, str]:
    return {k.lower(): v for k, v in keys.headers("balanceQuery").items()}


async def test_signed_requests_on_cached_keys_cost_one_pipeline_and_a_redis_away_is_503(private: PrivateRedis) -> None:
    keys = [KeyPair.generate() for _ in range(3)]
    accounts = Accounts(keys)
    async with batch_on(private.url) as batch:
        shared = SharedState(
            ip_limiter=RateLimiter(0, 0),
            key_limiter=RateLimiter(0, 0),
            replays=RedisReplayCache(batch),
            revocations=RedisRevocations(batch.redis, batch),
        )
        api = Api(actor=None, accounts=accounts, queries=None, shared=shared)  # type: ignore[arg-type]

        async def authenticate(headers: dict[str, str]) -> Principal:
            return await api.verifier.authenticate(headers, "balanceQuery", [], Scope.READ)

        assert [p.account_id for p in await asyncio.gather(*(authenticate(signed(k)) for k in keys))] == [0, 1, 2]
        assert accounts.lookups == 3, "the keys are cached now"
        requests = [signed(pair) for pair in keys]
        sent = batch.pipelines
        assert [p.account_id for p in await asyncio.gather(*map(authenticate, requests))] == [0, 1, 2]
        assert batch.pipelines == sent + 1, "three requests' mark reads and replay checks in one round trip"
        assert accounts.lookups == 3

        with pytest.raises(ApiError) as replayed:
            await authenticate(requests[0])
        assert replayed.value.code == Code.REPLAYED_REQUEST

        accounts.rows[keys[1].public_key] = replace(accounts.rows[keys[1].public_key], revoked=True)
        await shared.revocations.revoked(keys[1].public_key)  # as another gateway does once the revoke is committed
        with pytest.raises(ApiError) as revoked:
            await authenticate(signed(keys[1]))
        assert revoked.value.code == Code.UNAUTHORIZED
        assert (await authenticate(signed(keys[0]))).account_id == 0

        private.stop()
        outcomes = await asyncio.gather(*(authenticate(signed(k)) for k in keys), return_exceptions=True)
        assert all(isinstance(outcome, SharedStateUnavailableError) for outcome in outcomes), outcomes
