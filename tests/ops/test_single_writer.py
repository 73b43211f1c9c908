"""One engine per database, tried the way deploys try it: real server processes sharing one database.

- Handover (Railway's overlap, Heroku's preboot): A serves eight signed traders; B starts
  on the same database; a router sends orders to A until B's `/ready` answers, then to
  B. B must become the engine with the next epoch, A must retire yet keep serving
  reads, nothing acknowledged may be lost, A may acknowledge nothing after B's first
  acknowledgement, balances must add up, and B's state must be exactly a fresh load's
  (had A committed anything after B loaded, they would differ). The window in which
  engine routes answered 503 is printed (target: at most about 2 s).
- Failover: A active and S a standby; A gets SIGKILL under load; S must be ready within
  5 s with nothing acknowledged lost and its state equal to a fresh load's.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from exchange.api.auth import KeyPair
from exchange.engine.state import digest
from exchange.persistence.database import create_engine
from exchange.persistence.recovery import load_engine
from tests.support.databases import plain, scratch
from tests.support.processes import EXCHANGE, Process, free_port
from tests.support.traders import Ack, audit, operated, setup, signed, trade

TRADERS = 8


def serve(tmp_path: Path, name: str, env: dict[str, str], port: int | None = None) -> tuple[Process, str]:
    port = port or free_port()
    process = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / f"{name}.log")
    return process, f"http://127.0.0.1:{port}"


async def ready(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"{url}/ready")


async def engine_state(url: str, admin: KeyPair) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        reply = await signed(http, admin, "GET", "/admin/v1/engine", "engineQuery", {})
        assert reply.status_code == 200, reply.text
        state: dict[str, object] = reply.json()
        return state


async def fresh_digest(database_url: str) -> str:
    db = create_engine(database_url)
    try:
        return digest(await load_engine(db))
    finally:
        await db.dispose()


class Router:
    """Sends traffic to `first` until `second` answers `/ready` with 200, then to `second`."""

    def __init__(self, first: str, second: str) -> None:
        self.first, self.second = first, second
        self.switched_at: float | None = None

    def target(self) -> str:
        return self.first if self.switched_at is None else self.second

    async def watch(self, deadline: float) -> None:
        while self.switched_at is None and time.monotonic() < deadline:
            try:
                if (await ready(self.second)).status_code == 200:
                    self.switched_at = time.monotonic()
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)


def test_a_second_instance_takes_over_by_handover_and_loses_nothing(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    with scratch("exchange_handover") as scratch_url:
        database_url = plain(scratch_url)
        env = operated(database_url, admin)
        a, a_url = serve(tmp_path, "a", env)
        b_port = free_port()
        b_url = f"http://127.0.0.1:{b_port}"
        started: list[Process] = [a]
        try:
            a.wait_http(f"{a_url}/ready")
            traders = asyncio.run(setup(a_url, admin, TRADERS))
            before = asyncio.run(engine_state(a_url, admin))
            assert before["role"] == "active"
            router = Router(a_url, b_url)
            acks: list[Ack] = []
            refusals: list[float] = []

            async def load() -> None:
                stop_at = time.monotonic() + 30
                tasks = [
                    asyncio.create_task(trade(router.target, t, n, acks, refusals, stop_at))
                    for n, t in enumerate(traders)
                ]
                await asyncio.sleep(1.5)
                started.append(serve(tmp_path, "b", env, b_port)[0])  # the deploy's new instance
                await router.watch(time.monotonic() + 25)
                assert router.switched_at is not None, "B never became ready"
                await asyncio.sleep(1.5)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(load())
            on_a = [ack for ack in acks if ack.server == a_url]
            on_b = [ack for ack in acks if ack.server == b_url]
            assert len(on_a) > 50 and len(on_b) > 20, (len(on_a), len(on_b))
            window = min(ack.at for ack in on_b) - max(ack.at for ack in on_a)
            print(
                f"\nhandover: {len(on_a)} orders acknowledged by A, {len(on_b)} by B, {len(refusals)} answered 503; "
                f"no acknowledgement for {window * 1000:.0f} ms"
            )
            assert window < 3, f"engine routes were unavailable for {window:.2f} s"
            assert max(ack.order_id for ack in on_a) < min(ack.order_id for ack in on_b)
            assert max(ack.at for ack in on_a) < min(ack.at for ack in on_b), "A acknowledged after B took over"

            after = asyncio.run(engine_state(b_url, admin))
            assert after["role"] == "active" and after["epoch"] == int(str(before["epoch"])) + 1
            retired = asyncio.run(ready(a_url))
            assert retired.status_code == 503 and retired.json()["role"] == "retired"
            trades_on_a = httpx.get(f"{a_url}/api/v1/trades", params={"symbol": "SOL_USDC"}, timeout=5)
            assert trades_on_a.status_code == 200 and trades_on_a.json(), "the retired instance still serves reads"
            asyncio.run(audit(database_url, {ack.order_id for ack in acks}))
            assert after["digest"] == asyncio.run(fresh_digest(database_url))
            for process in started:
                assert process.terminate() == 0, process.output()
        finally:
            for process in started:
                process.close()


def test_a_standby_takes_over_when_the_active_engine_is_killed(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    with scratch("exchange_failover") as scratch_url:
        database_url = plain(scratch_url)
        env = operated(database_url, admin)
        a, a_url = serve(tmp_path, "active", env)
        started = [a]
        try:
            a.wait_http(f"{a_url}/ready")  # the standby starts once A holds the claim, as a deploy would start it
            standby, s_url = serve(tmp_path, "standby", {**env, "EXCHANGE_STANDBY": "true"})
            started.append(standby)
            standby.wait_http(f"{s_url}/health")
            waiting = asyncio.run(ready(s_url))
            assert waiting.status_code == 503 and waiting.json()["role"] == "standby"
            traders = asyncio.run(setup(a_url, admin, TRADERS))
            router = Router(a_url, s_url)
            acks: list[Ack] = []
            killed_at = 0.0

            async def load() -> None:
                nonlocal killed_at
                stop_at = time.monotonic() + 30
                tasks = [
                    asyncio.create_task(trade(router.target, t, n, acks, [], stop_at)) for n, t in enumerate(traders)
                ]
                await asyncio.sleep(1.5)
                a.signal(signal.SIGKILL)
                killed_at = time.monotonic()
                await router.watch(time.monotonic() + 10)
                await asyncio.sleep(1)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(load())
            assert router.switched_at is not None, "the standby never became ready"
            takeover = router.switched_at - killed_at
            on_s = [ack for ack in acks if ack.server == s_url]
            print(f"\nfailover: standby ready {takeover * 1000:.0f} ms after SIGKILL; {len(on_s)} orders on it")
            assert takeover < 5
            assert on_s, "the standby took orders"
            asyncio.run(audit(database_url, {ack.order_id for ack in acks}))
            state = asyncio.run(engine_state(s_url, admin))
            assert state["role"] == "active" and state["digest"] == asyncio.run(fresh_digest(database_url))
            assert standby.terminate() == 0, standby.output()
        finally:
            for process in started:
                process.close()
