"""`exchange demo` as a newcomer runs it: within seconds a live book, trades and klines on every market.

The test points DATABASE_URL at a fresh database on the local PostgreSQL to stay fast;
without it the demo starts an embedded PostgreSQL in the data directory (the
persistence tests cover that path). The bots run faster than their defaults so the
test needs only a few seconds of trading.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.demo import SYMBOLS, live
from tests.support.processes import EXCHANGE, Process, environment, free_port, scratch_site


def test_demo_gives_a_live_market_in_seconds_seeds_once_and_stops_cleanly(tmp_path: Path) -> None:
    with scratch_site("exchange_ops") as (port, url, database_url):
        env = environment(
            DATABASE_URL=database_url, EXCHANGE_BOT_INTERVAL="0.3", EXCHANGE_TAKER_INTERVAL="0.1", EXCHANGE_BOT_SEED="5"
        )
        server = Process([EXCHANGE, "demo", "--port", str(port)], env, tmp_path / "demo.log")
        try:
            server.wait_http(f"{url}/ready")
            started = time.monotonic()
            while (missing := live(url)) and time.monotonic() - started < 30:
                time.sleep(0.5)
            assert not missing, missing
            markets = httpx.get(f"{url}/api/v1/markets").json()
            assert sorted(m["symbol"] for m in markets) == sorted(SYMBOLS)
            book = httpx.get(f"{url}/api/v1/depth", params={"symbol": "SOL_USDC"}).json()
            assert float(book["bids"][-1][0]) < float(book["asks"][0][0])
        finally:
            status = server.terminate()
        output = server.output()
        assert status == 0, output
        assert f"exchange demo: {url}" in output

        again = Process([EXCHANGE, "demo", "--port", str(port)], env, tmp_path / "again.log")
        try:
            again.wait_http(f"{url}/ready")
            markets = httpx.get(f"{url}/api/v1/markets").json()
            assert sorted(m["symbol"] for m in markets) == sorted(SYMBOLS)
            assert not live(url)
        finally:
            assert again.terminate() == 0, again.output()


def test_demo_from_a_fresh_data_dir_says_what_it_does_and_is_live_within_30_seconds(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(EXCHANGE_DATA_DIR=str(tmp_path / "data"))
    env.pop("XDG_RUNTIME_DIR", None)  # as in a container: platformdirs used to warn about it on every start
    started = time.monotonic()
    server = Process([EXCHANGE, "demo", "--port", str(port)], env, tmp_path / "demo.log")
    try:
        server.wait_http(f"{url}/ready", timeout=30)
        while (missing := live(url)) and time.monotonic() - started < 30:
            time.sleep(0.5)
        assert not missing, (missing, server.output())
    finally:
        assert server.terminate() == 0, server.output()
    output = server.output()
    progress = ["starting embedded PostgreSQL in ", "migrating the database schema", f"ready at {url}"]
    positions = [output.find(line) for line in progress]
    assert -1 not in positions and positions == sorted(positions), output
    for noise in ("setup plugin", "RuntimeDirWarning", "Context impl", "Traceback"):
        assert noise not in output, output
