"""Running the `exchange` command the way people and platforms do: as a process, over real sockets.

`free_port()` finds a port to serve on, and `scratch_site(...)` a port, its URL and a
fresh scratch database for a server to use; `environment(...)` is this process's
environment cleaned of the exchange's own variables, so a child sees only what a test
sets. `Process` starts a command with an environment, waits for an HTTP path to
answer, and stops it with SIGTERM, returning its exit status and what it printed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from tests.support.databases import plain, scratch

ROOT = Path(__file__).resolve().parents[2]
EXCHANGE = str(Path(sys.executable).with_name("exchange"))


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Site(NamedTuple):
    """Where a test's server runs: its port, its URL, and the URL of its own scratch database."""

    port: int
    url: str
    database_url: str


@contextmanager
def scratch_site(prefix: str, host: str = "127.0.0.1") -> Iterator[Site]:
    """A free port on `host` and a fresh database named after `prefix` (dropped afterwards)."""
    port = free_port()
    with scratch(prefix) as database_url:
        yield Site(port, f"http://{host}:{port}", plain(database_url))


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without the exchange's own variables, plus `variables`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EXCHANGE_") and k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST")
    }
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(variables)
    return env


class Process:
    """A child process (its own process group) whose output is collected in a file.

    A command given as a string runs as Heroku runs a Procfile entry, `bash -c
    <command>` (bash execs a lone command, so the signal reaches the server itself).
    """

    def __init__(self, args: list[str] | str, env: Mapping[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            shell=isinstance(args, str),
            executable="/bin/bash" if isinstance(args, str) else None,
            start_new_session=True,
        )

    def output(self) -> str:
        """Everything printed so far."""
        return self.log.read_text(errors="replace")

    def wait_http(self, url: str, *, timeout: float = 60) -> httpx.Response:
        """Poll `url` until it answers 200; fail with the output if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"exited with {self.popen.returncode} before {url} answered:\n{self.output()}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return response
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{url} did not answer within {timeout}s:\n{self.output()}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send `signum` to every process of the group, as a platform stopping a dyno does."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signum)

    def terminate(self, *, timeout: float = 60) -> int:
        """SIGTERM, as a platform stops a process; return its exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kill the process if it is still running and close the log."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self._out.close()


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): command.strip() for name, command in entries}
