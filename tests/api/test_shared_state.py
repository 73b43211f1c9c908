"""Two gateways over one Redis and one database: replays, revocations and rate limits are global.

`gateways` runs two real servers on the same PostgreSQL database and the same Redis
(database `tests.support.redis_server.DATABASE` of the machine's Redis): A holds the
engine, B is a standby that serves what needs no engine, keys included. Every test
speaks to both over real sockets with accounts of its own. The outage tests run a
server over a private `redis-server` that they kill and start again: requests that need
the shared state are refused with 503 SERVICE_UNAVAILABLE and Retry-After while it is
down (never let through), and served again once it is back, with nothing restarted,
while the health probes, never charged to the IP limit, say alive (200) and not ready (503).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from exchange.api.auth import KeyPair
from exchange.api.shared import PREFIX, RedisRevocations, SharedState
from exchange.config import ProcessRole, Settings
from exchange.protocol.codes import ApiError, Code
from exchange.transport.batch import TurnBatch
from tests.api.client import Client, ok, refused
from tests.api.conftest import _settings, running
from tests.api.test_keys import KEYS, add_key, revoke
from tests.streams.wsclient import Socket
from tests.support.databases import database
from tests.support.redis_server import PrivateRedis, shared_redis

LIMITS = {"key_rate_limit": 1, "key_rate_burst": 3}
"""Three signed requests per key per three seconds, counted across the gateways."""


def signed_up(url: str) -> Client:
    """A fresh account (open sign-up) whose key signs for it."""
    client = Client(url, KeyPair.generate())
    ok(client.post("/exchange/v1/accounts", "accountCreate", {"publicKey": client.keys.public_key}))
    return client


def on(url: str, client: Client) -> Client:
    """The same key, speaking to another gateway."""
    return Client(url, client.keys, client.account_id)


@pytest.fixture(scope="module")
def gateways(database_name: str) -> Iterator[tuple[str, str]]:
    """The URLs of gateway A (the engine) and gateway B (a standby), sharing a database and a Redis."""
    name = f"{database_name}_gateways"
    admin = KeyPair.generate()
    with shared_redis() as redis_url, database(name):
        engine = _settings(name, admin, redis_url=redis_url, **LIMITS)
        standby = _settings(name, admin, redis_url=redis_url, standby=True, **LIMITS)
        with running(engine) as a, running(standby) as b:
            yield a.url, b.url


def test_a_request_accepted_by_one_gateway_is_a_replay_on_the_other(gateways: tuple[str, str]) -> None:
    a, b = gateways
    client = signed_up(a)
    headers = client.keys.headers("keyQueryAll")
    assert httpx.get(f"{a}{KEYS}", headers=headers).status_code == 200
    refused(httpx.get(f"{b}{KEYS}", headers=headers), 401, Code.REPLAYED_REQUEST)
    refused(httpx.get(f"{a}{KEYS}", headers=headers), 401, Code.REPLAYED_REQUEST)


def test_a_key_revoked_through_one_gateway_is_refused_by_the_other_at_once(gateways: tuple[str, str]) -> None:
    a, b = gateways
    owner = signed_up(a)
    second = add_key(owner)
    assert len(ok(on(b, second).get(KEYS, "keyQueryAll"))) == 2  # B has the key cached now
    ok(revoke(owner, second.keys.public_key))
    refused(on(b, second).get(KEYS, "keyQueryAll"), 401, Code.UNAUTHORIZED)
    refused(second.get(KEYS, "keyQueryAll"), 401, Code.UNAUTHORIZED)
    assert [k["revoked"] for k in ok(on(b, owner).get(KEYS, "keyQueryAll"))] == [False, True]


def test_a_keys_rate_limit_is_counted_across_gateways(gateways: tuple[str, str]) -> None:
    a, b = gateways
    client = signed_up(a)  # sign-up is verified, not charged
    replies = [c.get(KEYS, "keyQueryAll") for c in (client, client, on(b, client), on(b, client), client)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
    refused(replies[3], 429, Code.TOO_MANY_REQUESTS)
    assert 1 <= int(replies[3].headers["Retry-After"]) <= 3


def two_gateways_state(redis_url: str) -> tuple[SharedState, SharedState]:
    settings = Settings(redis_url=redis_url, key_rate_limit=1, key_rate_burst=2, ip_rate_limit=1, ip_rate_burst=1)
    return SharedState.of(settings), SharedState.of(settings)


def test_the_shared_components_agree_across_instances() -> None:
    async def run(redis_url: str) -> None:
        one, other = two_gateways_state(redis_url)
        try:
            expires = time.time() + 5
            assert await one.replays.first_use(b"signature", expires)
            assert not await other.replays.first_use(b"signature", expires)
            await one.key_limiter.check("k")
            await other.key_limiter.check("k")
            with pytest.raises(ApiError):
                await one.key_limiter.check("k")
            await other.ip_limiter.check("k")  # another window, though the same key
            mark = await one.revocations.mark()
            assert await other.revocations.mark() == mark
            await other.revocations.revoked("key")
            assert await one.revocations.mark() != mark
        finally:
            await one.close()
            await other.close()

    with shared_redis() as redis_url:
        asyncio.run(run(redis_url))


def test_a_redis_that_lost_everything_has_a_mark_no_cache_was_filled_under() -> None:
    async def run(redis_url: str) -> None:
        redis = Redis.from_url(redis_url)
        try:
            revocations = RedisRevocations(redis, TurnBatch(redis))
            before = await revocations.mark()
            assert await revocations.mark() == before
            await redis.flushdb()
            after = await revocations.mark()
            assert after != before and await RedisRevocations(redis, TurnBatch(redis)).mark() == after
            assert await redis.exists(f"{PREFIX}revocations") == 1
        finally:
            await redis.aclose()

    with shared_redis() as redis_url:
        asyncio.run(run(redis_url))


@pytest.fixture
def outage(database_name: str) -> Iterator[tuple[str, PrivateRedis]]:
    """A server whose IP and key limits live in a private Redis the test may stop; its URL and that Redis."""
    name = f"{database_name}_outage"
    limits = {"ip_rate_limit": 1000, "ip_rate_burst": 2000, "key_rate_limit": 1000, "key_rate_burst": 2000}
    redis = PrivateRedis()
    settings = _settings(name, KeyPair.generate(), redis_url=redis.url, **limits)
    with redis.running(), database(name), running(settings) as served:
        yield served.url, redis


@pytest.fixture
def split_outage(database_name: str) -> Iterator[tuple[str, PrivateRedis]]:
    """An engine and a gateway over a private Redis the test may stop, two requests per IP per two seconds.

    Yields the gateway's URL and that Redis.
    """
    name = f"{database_name}_split_outage"
    redis = PrivateRedis()
    settings = _settings(name, KeyPair.generate(), redis_url=redis.url, ip_rate_limit=1, ip_rate_burst=2)
    with (
        redis.running(),
        database(name),
        running(settings.model_copy(update={"role": ProcessRole.ENGINE})),
        running(settings.model_copy(update={"role": ProcessRole.GATEWAY})) as gateway,
    ):
        yield gateway.url, redis


def probes_until(url: str, ready: int) -> None:
    """Poll the probes until /ready answers `ready`; /health answers 200 meanwhile, and neither is ever 429."""
    deadline = time.monotonic() + 20
    while (status := httpx.get(f"{url}/ready", timeout=5).status_code) != ready:
        assert status in (200, 503) and time.monotonic() < deadline, f"/ready answers {status}, not {ready}"
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        time.sleep(0.05)


def unavailable(reply: httpx.Response) -> None:
    refused(reply, 503, Code.SERVICE_UNAVAILABLE)
    assert int(reply.headers["Retry-After"]) >= 1
    assert "Redis" in reply.json()["message"]


async def subscription_errors(url: str, keys: KeyPair) -> list[Any]:
    socket = await Socket.open(url)
    try:
        await socket.subscribe("account.orderUpdate", keys=keys)
        return [frame["error"]["code"] for frame in await socket.barrier() if "error" in frame]
    finally:
        await socket.close()


def test_without_redis_requests_get_503_with_retry_after_and_resume_when_it_is_back(
    outage: tuple[str, PrivateRedis],
) -> None:
    url, redis = outage
    client = signed_up(url)
    ok(client.get(KEYS, "keyQueryAll"))
    redis.stop()
    started = time.monotonic()
    unavailable(httpx.get(f"{url}/api/v1/ping"))
    unavailable(client.get(KEYS, "keyQueryAll"))
    assert time.monotonic() - started < 5, "a refused connection is answered at once"
    redis.start()
    deadline = time.monotonic() + 10
    while (reply := client.get(KEYS, "keyQueryAll")).status_code != 200:
        unavailable(reply)
        assert time.monotonic() < deadline, "the server did not come back with Redis"
        time.sleep(0.1)
    assert httpx.get(f"{url}/api/v1/ping").status_code == 200


def test_without_redis_a_revoke_or_a_private_subscription_is_refused_and_changes_nothing(
    outage: tuple[str, PrivateRedis],
) -> None:
    url, redis = outage
    owner = signed_up(url)
    second = add_key(owner)
    redis.stop()
    unavailable(revoke(owner, second.keys.public_key))
    assert asyncio.run(subscription_errors(url, owner.keys)) == [4013]
    redis.start()
    ok(second.get(KEYS, "keyQueryAll"))
    ok(revoke(owner, second.keys.public_key))
    refused(second.get(KEYS, "keyQueryAll"), 401, Code.UNAUTHORIZED)
    assert asyncio.run(subscription_errors(url, owner.keys)) == []


def test_a_gateway_without_redis_is_alive_but_not_ready_and_its_probes_are_never_rate_limited(
    split_outage: tuple[str, PrivateRedis],
) -> None:
    url, redis = split_outage
    probes_until(url, 200)
    assert [httpx.get(f"{url}/api/v1/ping").status_code for _ in range(3)][-1] == 429
    for path in ("/health", "/ready") * 5:
        assert httpx.get(f"{url}{path}").status_code == 200
    redis.stop()
    probes_until(url, 503)
    for _ in range(5):
        assert httpx.get(f"{url}/health").status_code == 200
        reply = httpx.get(f"{url}/ready")
        assert reply.status_code == 503
        assert "the shared state (Redis) does not answer" in reply.json()["problems"]
    unavailable(httpx.get(f"{url}/api/v1/ping"))
    redis.start()
    probes_until(url, 200)
