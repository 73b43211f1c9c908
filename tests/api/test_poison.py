"""A command whose effects the database refuses harms nobody else: the real server, writer and PostgreSQL.

The edge validates what it can, so these commands are handed to the engine actor
directly, on the server's own loop, all in one go so that they share one batch (the
actor takes everything queued): twenty orders from twenty accounts and one command the
database refuses. The twenty must be committed and answered, the one rejected, and the
engine must never halt (`/ready` polled all along). Without the actor's one-at-a-time
retry the whole batch fails and every caller gets 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Sequence

import httpx
import pytest

from exchange.api.auth import KeyPair
from exchange.engine.actor import EngineActor
from exchange.engine.commands import Command, Deposit, PlaceOrder
from exchange.engine.errors import RejectReason
from exchange.engine.events import Event, OrderAccepted, Rejected
from exchange.engine.orders import OrderType, Side
from exchange.engine.queries import GetBalances, Holding
from tests.api.client import Client
from tests.api.conftest import Served, _settings, list_markets, serving

GOOD = 20


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Served, Client]]:
    admin_keys = KeyPair.generate()
    name = f"exchange_poison_{uuid.uuid4().hex[:10]}"
    for served in serving(_settings(name, admin_keys), name):
        admin = Client(served.url, admin_keys)
        list_markets(admin)
        yield served, admin


def funded_accounts(url: str, admin: Client, n: int) -> list[int]:
    accounts = []
    for _ in range(n):
        reply = admin.post("/exchange/v1/accounts", "accountCreate", {"publicKey": KeyPair.generate().public_key})
        account = reply.json()["accountId"]
        deposit = {"symbol": "USDC", "quantity": "1000", "accountId": str(account)}
        assert admin.post("/exchange/v1/capital/deposit", "deposit", deposit).status_code == 200
        accounts.append(account)
    return accounts


def bid(account_id: int) -> PlaceOrder:
    return PlaceOrder(
        account_id=account_id,
        symbol="SOL_USDC",
        side=Side.BID,
        order_type=OrderType.LIMIT,
        price=1_000,  # 10.00 USDC: rests, nobody sells that low
        quantity=100,
        ts=1,
    )


def submit_together(served: Served, commands: Sequence[Command]) -> list[list[Event] | BaseException]:
    actor: EngineActor = served.app.state.actor

    async def together() -> list[list[Event] | BaseException]:
        return await asyncio.gather(*(actor.submit(c) for c in commands), return_exceptions=True)

    return served.run(together())


def watch_readiness(url: str, stop: threading.Event, answers: list[int]) -> None:
    with httpx.Client(timeout=5) as http:
        while not stop.is_set():
            answers.append(http.get(f"{url}/ready").status_code)


def test_one_command_the_database_refuses_fails_alone_in_a_batch_of_twenty_good_ones(
    served: tuple[Served, Client],
) -> None:
    server, admin = served
    good, [poisoner] = funded_accounts(server.url, admin, GOOD), funded_accounts(server.url, admin, 1)
    poison = Deposit(account_id=poisoner, asset="USDC", amount=1, transfer_id="x\x00y", ts=1)
    stop, answers = threading.Event(), list[int]()
    watcher = threading.Thread(target=watch_readiness, args=(server.url, stop, answers))
    watcher.start()
    try:
        while not answers:  # readiness is being watched before the batch goes in
            time.sleep(0.005)
        replies = submit_together(server, [bid(a) for a in good[:10]] + [poison] + [bid(a) for a in good[10:]])
    finally:
        stop.set()
        watcher.join()
    answers.append(httpx.get(f"{server.url}/ready", timeout=5).status_code)  # and after it
    [refused] = replies.pop(10)  # type: ignore[misc]
    assert isinstance(refused, Rejected) and refused.reason is RejectReason.UNSTORABLE
    assert all(isinstance(r, list) and isinstance(r[0], OrderAccepted) for r in replies), replies
    assert answers and set(answers) == {200}, "the engine never halted"
    assert not server.app.state.actor.halted
    for account in good:
        holdings: tuple[Holding, ...] = server.run(server.app.state.actor.query(GetBalances(account_id=account)))
        assert {h.asset: (h.available, h.locked) for h in holdings} == {"USDC": (990_000_000, 10_000_000)}
    poisoned: tuple[Holding, ...] = server.run(server.app.state.actor.query(GetBalances(account_id=poisoner)))
    assert [(h.asset, h.available) for h in poisoned] == [("USDC", 1_000_000_000)]


def test_a_transfer_id_the_engine_forgot_is_refused_by_the_database_key(served: tuple[Served, Client]) -> None:
    server, admin = served
    [account] = funded_accounts(server.url, admin, 1)
    old = Deposit(account_id=account, asset="USDC", amount=7, transfer_id="old", ts=1)
    assert isinstance(submit_together(server, [old])[0], list)
    newer = [Deposit(account_id=account, asset="USDC", amount=1, transfer_id=f"newer-{n}", ts=2) for n in range(10_000)]
    assert not any(isinstance(r, BaseException) for r in submit_together(server, newer))
    again, other = submit_together(server, [old, bid(account)])
    assert isinstance(again, list) and isinstance(again[0], Rejected)
    assert again[0].reason is RejectReason.DUPLICATE_TRANSFER
    assert isinstance(other, list) and isinstance(other[0], OrderAccepted)
    holdings: tuple[Holding, ...] = server.run(server.app.state.actor.query(GetBalances(account_id=account)))
    assert sum(h.available + h.locked for h in holdings) == 1_000_000_000 + 7 + 10_000, "credited once"
