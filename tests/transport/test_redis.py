"""The Redis transport in one process, against a database of the local Redis: an engine link with
a real actor (its commit is a no-op: durability is `tests/ops/test_roles.py`'s business) and a
gateway's remote engine and event relay.

- Commands and queries travel to the actor and back, equal to what the actor answers in process;
  errors come back as the exceptions the routes map (503 for an unavailable engine, KeyError).
- An inbox entry older than the timeout when the engine reads it is dropped, never executed.
- A malformed inbox entry is refused: its gateway gets a failure, the engine goes on.
- A request nobody answers fails with EngineUnavailableError once its timeout passed.
- The relay hands committed events to the gateway's bus in order; a batch number that does not
  follow (a new engine run) ends the bus's subscriptions, so the feed resyncs.
- The relay hands each announced revocation to the gateway's streams before the events of the
  same read, and asks them to look the keys up again after it lost Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import msgspec
import pytest
from redis import Redis as SyncRedis

from exchange.api.shared import RedisRevocations
from exchange.engine import codec
from exchange.engine.actor import EngineActor, EngineUnavailableError
from exchange.engine.commands import AddAsset, AddMarket, Deposit
from exchange.engine.engine import Engine
from exchange.engine.events import AssetAdded, Event, Rejected
from exchange.engine.queries import GetBalances, GetDepth, Holding
from exchange.streams.bus import InMemoryBus, SubscriptionOverflow
from exchange.transport.batch import TurnBatch
from exchange.transport.redis import ENGINE_KEY, EVENTS, INBOX, EngineLink, EventRelay, RemoteEngine, connected
from tests.engine.builders import BTC, BTC_USDC, USDC
from tests.support.redis import redis_database

pytestmark = pytest.mark.anyio

LISTING = (AddAsset(asset=BTC, ts=1), AddAsset(asset=USDC, ts=1), AddMarket(market=BTC_USDC, ts=1))


class Revocations:
    """A gateway's streams as the relay sees them, noting what they are told in `told`.

    `at_first_recheck` runs when the first recheck is asked for: between two reads of the relay.
    """

    def __init__(self, told: list[object] | None = None, at_first_recheck: Callable[[], None] = lambda: None) -> None:
        self.told = told if told is not None else []
        self.at_first_recheck = at_first_recheck

    def key_revoked(self, public_key: str) -> None:
        self.told.append(public_key)

    def recheck_keys(self) -> None:
        if "recheck" not in self.told:
            self.at_first_recheck()
        self.told.append("recheck")


async def no_commit(results: Sequence[Sequence[Event]]) -> None:
    """Nothing to store: these tests are about the transport."""


@asynccontextmanager
async def linked(url: str, timeout: float = 5) -> AsyncIterator[tuple[EngineLink, RemoteEngine, InMemoryBus]]:
    """An engine (actor and link) and a gateway (remote engine, relay into a bus) over the Redis database `url`."""
    async with connected(url) as engine_side, connected(url) as gateway_side:
        link = EngineLink(engine_side, timeout=timeout)

        async def reload() -> Engine:
            raise AssertionError("no commit fails here")

        actor = EngineActor(commit=no_commit, publish=link.publish, reload=reload)
        await actor.start(Engine())
        remote, bus = RemoteEngine(gateway_side, timeout=timeout), InMemoryBus()
        async with link.serving(actor), remote.running(), EventRelay(gateway_side, bus, Revocations()).running():
            async with asyncio.timeout(10):
                while not remote.ready:
                    await asyncio.sleep(0.02)
            yield link, remote, bus


async def test_commands_and_queries_travel_to_the_engine_and_back() -> None:
    with redis_database() as url:
        async with linked(url) as (_, remote, bus):
            subscription = bus.subscribe()
            listed = [await remote.submit(command) for command in LISTING]
            deposited = await remote.submit(Deposit(account_id=7, asset="USDC", amount=10**20, transfer_id="t", ts=2))
            assert [type(events[0]).__name__ for events in listed] == ["AssetAdded", "AssetAdded", "MarketAdded"]
            balances = await remote.query(GetBalances(account_id=7))
            assert balances == (Holding(asset="USDC", available=10**20, locked=0),)
            streamed: list[Event] = []
            async with asyncio.timeout(5):
                while len(streamed) < sum(map(len, [*listed, deposited])):
                    streamed += await subscription.next()
            assert streamed == [event for events in [*listed, deposited] for event in events]
            with pytest.raises(KeyError):
                await remote.query(GetDepth(symbol="NOPE_USDC", limit=5))


async def test_an_entry_older_than_the_timeout_is_never_executed() -> None:
    with redis_database() as url:
        async with connected(url) as redis:  # a gateway's command, queued while no engine runs
            await redis.xadd(INBOX, {"g": "gone", "i": 1, "b": codec.encode(LISTING[0])})
        await asyncio.sleep(1.2)
        async with linked(url, timeout=1) as (_, remote, _bus):
            assert [type(e) for e in await remote.submit(LISTING[1])] == [AssetAdded], "the engine reads the inbox"
            assert [type(e) for e in await remote.submit(LISTING[0])] == [AssetAdded], "the stale entry never ran"
            assert [type(e) for e in await remote.submit(LISTING[0])] == [Rejected], "listed once"


async def test_a_malformed_entry_is_refused_and_the_engine_goes_on() -> None:
    with redis_database() as url:
        async with linked(url) as (_, remote, _bus), connected(url) as redis, redis.pubsub() as replies:
            await replies.subscribe("exchange:replies:forger")
            bodies = [b"{", b'{"Nope": {}}', codec.encode(AssetAdded(asset=BTC, ts=1)), b'{"GetBalances": {}}']
            for request, body in enumerate(bodies):
                await redis.xadd(INBOX, {"g": "forger", "i": request, "b": body})
            await redis.xadd(INBOX, {"g": "forger", "i": "not a number", "b": codec.encode(LISTING[0])})
            answers: list[list[object]] = []
            async with asyncio.timeout(5):
                while len(answers) < len(bodies):
                    message = await replies.get_message(ignore_subscribe_messages=True, timeout=1)
                    if message is not None:
                        answers += msgspec.json.decode(message["data"])
            assert sorted((request, status) for request, status, _ in answers) == [
                (request, "failed") for request in range(len(bodies))
            ]
            assert [type(e) for e in await remote.submit(LISTING[0])] == [AssetAdded], "the unnumbered entry never ran"


async def test_a_request_nobody_answers_fails_after_its_timeout() -> None:
    with redis_database() as url:
        async with connected(url) as redis:
            await redis.set(ENGINE_KEY, "an engine that never reads its inbox")
            remote = RemoteEngine(redis, timeout=0.2)
            async with remote.running():
                async with asyncio.timeout(5):
                    while not remote.ready:
                        await asyncio.sleep(0.02)
                    with pytest.raises(EngineUnavailableError, match="in time"):
                        await remote.submit(LISTING[0])
                    with pytest.raises(EngineUnavailableError, match="in time"):
                        await remote.query(GetBalances(account_id=1))


async def test_a_gap_in_the_event_stream_ends_the_gateways_subscriptions() -> None:
    with redis_database() as url:
        async with linked(url) as (link, remote, bus):
            subscription = bus.subscribe()
            await remote.submit(LISTING[0])
            assert await subscription.next()
            link.new_run()  # as after a reload: batches may have been committed and never published
            await remote.submit(LISTING[1])
            async with asyncio.timeout(5):
                with pytest.raises(SubscriptionOverflow):
                    while True:
                        await subscription.next()


async def test_a_gateway_without_an_engine_refuses_at_once() -> None:
    with redis_database() as url:
        async with connected(url) as redis:
            remote = RemoteEngine(redis, timeout=5)
            async with remote.running():
                await asyncio.sleep(0.3)
                assert not remote.ready
                with pytest.raises(EngineUnavailableError):
                    await remote.submit(LISTING[0])


class NotedBus(InMemoryBus):
    """A bus that notes each batch published into `told`, beside what the streams are told."""

    def __init__(self, told: list[object]) -> None:
        super().__init__()
        self.told = told

    def publish(self, events: Sequence[Event]) -> None:
        self.told.append(list(events))
        super().publish(events)


async def eventually(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_revocation_reaches_the_streams_before_the_events_read_with_it_and_a_lost_redis_means_a_recheck() -> (
    None
):
    listed = AssetAdded(asset=BTC, ts=1)
    with redis_database() as url:

        def revoke_then_commit() -> None:
            """A revocation, then an event, both there before the relay's next read (so it returns both)."""
            with SyncRedis.from_url(url) as redis, redis.pipeline(transaction=True) as both:
                both.xadd(RedisRevocations.ANNOUNCED, {"k": "K1"})
                both.xadd(EVENTS, {"run": "r", "n": 1, "e": b"[" + codec.encode(listed) + b"]"})
                both.execute()

        async with connected(url) as relays, connected(url) as other:
            told: list[object] = []
            async with EventRelay(relays, NotedBus(told), Revocations(told, revoke_then_commit)).running():
                await eventually(lambda: len(told) == 3)
                assert told == ["recheck", "K1", [listed]]  # a recheck at the start: keys may have been revoked before
                database = int(url.rsplit("/", 1)[1])
                for client in await other.client_list():
                    if int(client["db"]) == database and int(client["id"]) != await other.client_id():
                        await other.client_kill_filter(_id=client["id"])
                await eventually(lambda: len(told) == 4)
                await RedisRevocations(other, TurnBatch(other)).revoked("K2")
                await eventually(lambda: len(told) == 5)
                assert told[3:] == ["recheck", "K2"]
