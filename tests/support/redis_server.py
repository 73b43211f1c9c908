"""Redis for the tests: the machine's server (one database number of ours), or a private one to stop.

`shared_redis()` yields the URL of database `DATABASE` of the Redis at 127.0.0.1:6379,
emptied before and after; a Redis that does not answer fails the test, loudly (`.ci/run`
checks it before the suite). `PrivateRedis` is a `redis-server` of the test's own, on a
free port and keeping nothing on disk, that a test stops and starts again to watch the
exchange through a Redis outage.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.support.processes import free_port

DATABASE = 7
"""The Redis database number the tests use (the exchange's own default is 0)."""
SERVER = f"redis://127.0.0.1:6379/{DATABASE}"


def answers(url: str) -> bool:
    """Whether the Redis at `url` answers PING."""
    try:
        with Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except RedisError:
        return False


@contextmanager
def shared_redis() -> Iterator[str]:
    """The URL of our database of the machine's Redis, empty; emptied again after."""
    if not answers(SERVER):
        pytest.fail(f"Redis does not answer at {SERVER}: start it (see .ci/run)")
    with Redis.from_url(SERVER) as client:
        client.flushdb()
        try:
            yield SERVER
        finally:
            client.flushdb()


class PrivateRedis:
    """A `redis-server` on a free port, no persistence, that `stop` kills and `start` brings back empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it answers."""
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers(self.url):
            assert self._process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    @contextmanager
    def running(self) -> Iterator[PrivateRedis]:
        """Started here, stopped at the end."""
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        """Kill it (SIGKILL: no goodbye to its clients) and wait until it is gone."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
