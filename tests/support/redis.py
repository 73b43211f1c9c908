"""Redis for the tests: a private server the test can kill and restart, or a database number of the local one.

`RedisServer` runs `redis-server` without persistence on a free port (a restart loses
everything, the harshest case). `redis_database()` claims a database number of the local
Redis (127.0.0.1:6379, or `TEST_REDIS_URL`) that is empty, by a marker key, yields its
URL, and deletes the exchange's keys and the marker afterwards.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.processes import Process, environment, free_port

LOCAL_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
MARKER = "exchange-tests:claimed"


class RedisServer:
    """A private redis-server without persistence, on its own port; `kill` and `start` restart it."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = tmp_path
        self._runs = itertools.count()
        self.process: Process | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = Process(args, environment(), self._log / f"redis-{next(self._runs)}.log")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.close()


@contextmanager
def redis_database() -> Iterator[str]:
    """The URL of an empty database number of the local Redis, claimed for the test; cleaned on exit."""
    token = secrets.token_hex(8)
    for number in range(1, 16):
        client = redis.Redis.from_url(f"{LOCAL_URL}/{number}")
        try:
            if client.dbsize() == 0 and client.set(MARKER, token, nx=True, ex=3_600):
                try:
                    yield f"{LOCAL_URL}/{number}"
                finally:
                    for key in client.scan_iter(match="exchange:*"):
                        client.delete(key)
                    client.delete(MARKER)
                return
        finally:
            client.close()
    raise AssertionError("no empty database number on the local Redis")
