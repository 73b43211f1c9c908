"""A PostgreSQL server of a test's own, to stop, freeze and restart while the exchange runs on it.

The shared test server (`tests.support.databases`) must never go down under other
tests, so an outage test starts its own: `initdb` into a fresh directory, then the
`postgres` binary itself on a free port of 127.0.0.1. `freeze` sends SIGSTOP to the
postmaster and to each of its children (every backend is a session of its own, so a
process group would not reach them): a database that stops answering without closing
anything; `thaw` sends SIGCONT. `stop` is a fast
shutdown (connections closed, new ones refused), `start` brings it back on the same
port with the same data. PostgreSQL refuses to run as root: run as root, the server
runs as the `postgres` system user (Debian's package creates it), which owns the
directory. The binaries are PostgreSQL 15's, or those under `$POSTGRES_BIN`.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.processes import free_port

BIN = Path(os.environ.get("POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
SYSTEM_USER = "postgres"


class PrivatePostgres:
    """One PostgreSQL server in a temporary directory, on a free port; see the module docstring."""

    def __init__(self) -> None:
        self.port = free_port()
        self._root = Path(tempfile.mkdtemp(prefix="exchange-pg-"))
        self._data = self._root / "data"
        self._user = SYSTEM_USER if os.geteuid() == 0 else None
        self._process: subprocess.Popen[bytes] | None = None
        self.log = self._root / "postgres.log"
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [BIN / "initdb", "-D", self._data, "-U", "postgres", "--auth=trust", "--encoding=utf8", "--no-sync"],
            user=self._user,
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        """The `postgres` database of this server, in the asyncpg dialect."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        assert self._process is None, "already running"
        options = ["-c", "fsync=off", "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self._root}"]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [BIN / "postgres", "-D", self._data, "-p", str(self.port), *options],
                user=self._user,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        ready = [str(BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(ready, check=False).returncode:
            assert self._process.poll() is None, f"postgres exited:\n{self.log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, "postgres did not become ready in 30 s"
            time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown: every connection is closed and new ones are refused, until `start`."""
        assert self._process is not None, "not running"
        self.thaw()
        self._process.send_signal(signal.SIGINT)
        self._process.wait(30)
        self._process = None

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open and nothing answers."""
        assert self._process is not None, "not running"
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: the frozen server carries on where it stopped."""
        assert self._process is not None, "not running"
        self._signal(signal.SIGCONT)

    def _signal(self, signum: int) -> None:
        """Send `signum` to the postmaster first (so it forks no more), then to its children."""
        assert self._process is not None
        self._process.send_signal(signum)
        for pid in _children(self._process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def close(self) -> None:
        """Stop the server if it runs and delete its directory."""
        if self._process is not None:
            self.thaw()
            self._process.kill()
            self._process.wait()
            self._process = None
        shutil.rmtree(self._root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`, from /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children
