"""Fault test: the database becomes unreachable under load, and comes back.

The harness (engine actor + writer, see `harness.py`) reaches PostgreSQL through a
TCP forwarder owned by the test. Cutting it aborts every open connection and refuses
new ones, which to the service is a database that went away mid-transaction. While it
is cut, the service must answer every request with a clear SERVICE_UNAVAILABLE error
and acknowledge nothing; once it is restored, the service must resume by itself (the
actor's reload retries with backoff), and the audit of `workload` must find every
acknowledged outcome in the database and the service's state equal to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.persistence.workload import Acks, Harness, audit, digest_of_service, drive, seed

pytestmark = pytest.mark.anyio

ACCOUNTS = range(1, 5)


class Proxy:
    """A TCP forwarder to one address that can be cut (every link dropped, new ones refused) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._up = True
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Abort every forwarded connection and refuse new ones until `restore`."""
        self._up = False
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        """Forward new connections again."""
        self._up = True

    async def close(self) -> None:
        """Drop everything and stop listening."""
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up:
            writer.transport.abort()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        self._links |= {writer, upstream_writer}
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        self._links -= {writer, upstream_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


async def until(condition: object, timeout: float) -> None:
    """Wait until `condition()` is true, failing after `timeout` seconds."""
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def keep_driving(port: int, account: int, rng: random.Random, acks: Acks, done: asyncio.Event) -> None:
    """Drive `account` in short runs until `done`, pausing briefly after each refusal."""
    while not done.is_set():
        await drive(port, account, 10, rng, acks, pause_on_refusal=0.01)


async def test_database_outage_is_refused_loudly_loses_nothing_and_heals_by_itself(
    database_url: str, tmp_path: Path
) -> None:
    url = make_url(database_url)
    assert url.host is not None and url.port is not None
    proxy = Proxy(url.host, url.port)
    await proxy.start()
    harness = Harness(url.set(port=proxy.port).render_as_string(hide_password=False), tmp_path / "harness.log")
    await harness.start()
    acks = await seed(harness.port, ACCOUNTS)
    rng = random.Random(7)
    done = asyncio.Event()
    clients = [
        asyncio.create_task(keep_driving(harness.port, a, random.Random(rng.random()), acks, done)) for a in ACCOUNTS
    ]
    try:
        await until(lambda: acks.successes > 300, 30)
        proxy.cut()
        await asyncio.sleep(0.3)  # the batch in flight at the cut ends one way or the other
        refused, acknowledged = acks.refusals, acks.successes
        await asyncio.sleep(1.5)
        assert acks.successes == acknowledged, "nothing may be acknowledged while the database is unreachable"
        assert acks.refusals > refused + 20, "requests during the outage must be refused, not left hanging"

        proxy.restore()
        await until(lambda: acks.successes > acknowledged + 300, 30)
    finally:
        done.set()
        await asyncio.gather(*clients)
    assert await digest_of_service(harness.port) == await audit(database_url, acks)
    await harness.kill()
    await proxy.close()
