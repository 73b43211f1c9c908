"""SIGTERM under load loses nothing acknowledged.

Sixteen signed clients place crossing orders as fast as the server answers; midway the
server gets SIGTERM, as a platform sends on a redeploy. It must exit 0, and every
order it acknowledged (HTTP 200 with an id) must be in the database, with the per
asset sum of balances still equal to what was deposited (nothing lost, nothing made).
Requests after the signal may fail (refused connection, 503); none may be a lie.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from exchange.api.auth import KeyPair
from tests.support.processes import EXCHANGE, Process, scratch_site
from tests.support.traders import Ack, audit, operated, setup, trade

TRADERS = 16


def test_sigterm_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    with scratch_site("exchange_ops") as (port, url, database_url):
        env = operated(database_url, admin)
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/ready")
            traders = asyncio.run(setup(url, admin, TRADERS))
            acknowledged: list[Ack] = []

            async def load() -> None:
                stop_at = time.monotonic() + 60
                tasks = [
                    asyncio.create_task(trade(lambda: url, t, n, acknowledged, [], stop_at))
                    for n, t in enumerate(traders)
                ]
                while len(acknowledged) <= 50:  # under load, then the signal (however slow the machine)
                    assert time.monotonic() < stop_at - 30, len(acknowledged)
                    await asyncio.sleep(0.05)
                server.signal()
                await asyncio.sleep(2.5)  # the clients go on while the server drains and exits
                for task in tasks:
                    task.cancel()
                ended = await asyncio.gather(*tasks, return_exceptions=True)
                failed = [
                    e for e in ended if isinstance(e, BaseException) and not isinstance(e, asyncio.CancelledError)
                ]
                assert not failed, failed

            asyncio.run(load())
            status = server.popen.wait(60)
        finally:
            server.close()
        assert status == 0, server.output()

        asyncio.run(audit(database_url, {ack.order_id for ack in acknowledged}))
