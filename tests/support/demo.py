"""`exchange demo` as people run it, in a child process, and the check that its markets are live.

DATABASE_URL points the demo at a scratch database on the test server, which keeps it
fast (without one the demo starts an embedded PostgreSQL; the persistence tests cover
that path). `live(url)` says what is still missing for a live market on each of the
demo's listings: a two-sided book, trades, 1m klines.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from exchange import demo
from tests.support.processes import EXCHANGE, Process, environment, scratch_site

SYMBOLS = [market.symbol for market in demo.MARKETS]


def live(url: str) -> dict[str, str]:
    """What is still missing for a live demo, per market (empty when every market is live)."""
    missing: dict[str, str] = {}
    since = int(time.time()) - 3600
    for symbol in SYMBOLS:
        depth = httpx.get(f"{url}/api/v1/depth", params={"symbol": symbol}).json()
        trades = httpx.get(f"{url}/api/v1/trades", params={"symbol": symbol}).json()
        klines = httpx.get(
            f"{url}/api/v1/klines", params={"symbol": symbol, "interval": "1m", "startTime": str(since)}
        ).json()
        if not (depth["bids"] and depth["asks"]):
            missing[symbol] = "a two-sided book"
        elif not trades:
            missing[symbol] = "trades"
        elif not klines:
            missing[symbol] = "1m klines"
    return missing


@contextmanager
def running_demo(log: Path, host: str = "127.0.0.1", **variables: str) -> Iterator[str]:
    """`exchange demo` on `host` and a free port over a scratch database, `variables` set; yield its URL once live."""
    with scratch_site("exchange_demo", host) as (port, url, database_url):
        env = environment(DATABASE_URL=database_url, **variables)
        server = Process([EXCHANGE, "demo", "--host", host, "--port", str(port)], env, log)
        try:
            server.wait_http(f"{url}/ready")
            deadline = time.monotonic() + 30
            while (missing := live(url)) and time.monotonic() < deadline:
                time.sleep(0.5)
            assert not missing, f"{missing}\n{server.output()}"
            yield url
        finally:
            server.terminate()
