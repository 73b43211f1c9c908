"""A key revoked through one gateway ends its private subscriptions on the others: real processes, real sockets.

One engine and two gateways, A and B, over a private `redis-server` (the test restarts
it) and the local PostgreSQL. On B, one socket holds private subscriptions signed by a
key that gets revoked, another by the owner's own key, which stays valid.

1. The owner revokes the second key through A, then places an order through A. B's
   socket of the revoked key gets the frame the single process sends (4003 naming the
   streams it ended) and nothing of the order; the owner's socket on B gets the order.
2. A gateway away while a revocation's announcement is lost: B stopped (SIGSTOP), a third
   key revoked through A, Redis restarted empty, B continued. Once B is back on Redis it
   looks the subscribed keys up again and ends the third key's subscription with the
   same frame; the owner's next order reaches the owner's socket on B and not that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from exchange.api.auth import KeyPair
from tests.api.client import Client, ok
from tests.api.test_keys import BID, add_key, revoke
from tests.ops.test_roles import over_redis
from tests.streams.wsclient import Socket
from tests.support.processes import Process
from tests.support.redis import RedisServer
from tests.support.traders import setup

PRIVATE = ("account.orderUpdate", "account.balanceUpdate")


def ended(*streams: str) -> dict[str, Any]:
    """The frame that tells a client its subscriptions to `streams` ended with the key that signed them."""
    return {"id": None, "error": {"code": 4003, "message": f"API key revoked: unsubscribed {', '.join(streams)}"}}


async def streaming(owner: Client, socket: Socket) -> None:
    """Place orders until one reaches `socket`: a gateway's streams start once it has found the engine."""
    async with asyncio.timeout(60):
        while True:
            await asyncio.to_thread(lambda: ok(owner.place(**BID)))
            with contextlib.suppress(TimeoutError):
                await socket.until(1, "account.orderUpdate", 2)
                return


def test_a_key_revoked_through_one_gateway_ends_its_subscriptions_on_the_other(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    with over_redis(tmp_path, "exchange_revocations", admin) as (redis, _, start):
        engine, engine_url = start("engine", ["--role", "engine"])
        engine.wait_http(f"{engine_url}/ready")
        a, a_url = start("gateway-a", ["--role", "gateway"])
        b, b_url = start("gateway-b", ["--role", "gateway"])
        a.wait_http(f"{a_url}/ready")
        b.wait_http(f"{b_url}/ready")
        asyncio.run(scenario(redis, admin, (a, a_url), (b, b_url)))


async def scenario(redis: RedisServer, admin: KeyPair, a: tuple[Process, str], b: tuple[Process, str]) -> None:
    (gateway_a, a_url), (gateway_b, b_url) = a, b
    [owner_keys] = await setup(a_url, admin, 1)
    owner = Client(a_url, owner_keys)
    second, third = await asyncio.to_thread(add_key, owner), await asyncio.to_thread(add_key, owner)
    by_owner, by_second, by_third = [await Socket.open(b_url) for _ in range(3)]
    try:
        await by_owner.subscribe("account.orderUpdate", keys=owner.keys)
        await by_second.subscribe(*PRIVATE, keys=second.keys)
        await by_third.subscribe("account.orderUpdate", keys=third.keys)
        assert await by_owner.barrier() == await by_second.barrier() == await by_third.barrier() == []
        await streaming(owner, by_owner)
        for socket in (by_owner, by_second, by_third):
            assert {frame["stream"] for frame in await socket.barrier()} <= set(PRIVATE)

        # 1. revoked through A while B follows: B ends the subscriptions before relaying any later event
        await asyncio.to_thread(lambda: ok(revoke(owner, second.keys.public_key)))
        await asyncio.to_thread(lambda: ok(owner.place(**BID)))
        assert [data["e"] for data in await by_owner.until(1, "account.orderUpdate")] == ["orderAccepted"]
        # The order's frames for every socket of B were queued together: the owner's arrived, so would the others'.
        assert await by_second.drain(0.5) == [ended(*PRIVATE)]
        assert [frame["data"]["e"] for frame in await by_third.drain(0.5)] == ["orderAccepted"]

        # 2. B away while the announcement is lost with Redis's memory: B looks the keys up again once back
        gateway_b.signal(signal.SIGSTOP)
        await asyncio.to_thread(lambda: ok(revoke(owner, third.keys.public_key)))
        redis.kill()
        redis.start()
        gateway_b.signal(signal.SIGCONT)
        assert await by_third.recv(timeout=30) == ended("account.orderUpdate")
        await asyncio.to_thread(gateway_a.wait_http, f"{a_url}/ready")
        await asyncio.to_thread(gateway_b.wait_http, f"{b_url}/ready")
        await asyncio.to_thread(lambda: ok(owner.place(**BID)))
        assert [data["e"] for data in await by_owner.until(1, "account.orderUpdate", 30)] == ["orderAccepted"]
        assert await by_third.drain(0.5) == []
    finally:
        for socket in (by_owner, by_second, by_third):
            await socket.close()
