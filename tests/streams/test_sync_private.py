"""A local book from the REST snapshot plus `depth` diffs equals `/depth`; private streams stay private."""

from __future__ import annotations

import asyncio
import random
import threading
from decimal import Decimal
from typing import Any

import httpx

from exchange.api.auth import KeyPair
from tests.api.client import Client
from tests.api.conftest import Exchange
from tests.streams.wsclient import Socket, limit, new_market, new_traders, signature


def _random_flow(traders: list[Client], symbol: str, operations: int, seed: int) -> None:
    """Random limit orders around 100 (about a third crossing) and cancels of random open orders."""
    rng = random.Random(seed)
    open_ids: dict[int, list[str]] = {i: [] for i in range(len(traders))}
    for _ in range(operations):
        who = rng.randrange(len(traders))
        if open_ids[who] and rng.random() < 0.35:
            order_id = open_ids[who].pop(rng.randrange(len(open_ids[who])))
            traders[who].delete("/api/v1/order", "orderCancel", {"symbol": symbol, "orderId": order_id})
            continue
        side = rng.choice(("Bid", "Ask"))
        cents = rng.randint(9_900, 10_100)
        reply = traders[who].place(
            symbol=symbol,
            side=side,
            orderType="Limit",
            price=f"{cents // 100}.{cents % 100:02d}",
            quantity=f"0.{rng.randint(1, 99):02d}",
        )
        if reply.status_code == 200 and reply.json()["status"] in ("New", "PartiallyFilled"):
            open_ids[who].append(reply.json()["id"])


def _rest_depth(url: str, symbol: str) -> dict[str, Any]:
    reply = httpx.get(f"{url}/api/v1/depth", params={"symbol": symbol}, timeout=10)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result


def _levels(levels: list[list[str]]) -> dict[Decimal, Decimal]:
    return {Decimal(price): Decimal(quantity) for price, quantity in levels}


def test_local_book_from_snapshot_and_diffs_equals_rest_depth(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    traders = new_traders(ex, 3, "1000000")
    symbol = new_market(ex, *traders)

    async def run() -> None:
        socket = await Socket.open(ex.url)
        await socket.subscribe(f"depth.{symbol}")
        await socket.barrier()
        flows = [threading.Thread(target=_random_flow, args=([t], symbol, 800, i)) for i, t in enumerate(traders)]
        for flow in flows:
            flow.start()
        diffs: list[dict[str, Any]] = await socket.until(50, f"depth.{symbol}", timeout=60)
        snapshot = await asyncio.to_thread(_rest_depth, ex.url, symbol)
        book = {"b": _levels(snapshot["bids"]), "a": _levels(snapshot["asks"])}
        last = int(snapshot["lastUpdateId"])
        applied = 0

        def apply(diff: dict[str, Any]) -> None:
            nonlocal last, applied
            if diff["u"] <= last:
                return
            assert diff["U"] == last + 1, "a gap in the depth sequence"
            for side in ("b", "a"):
                for price, quantity in diff[side]:
                    if Decimal(quantity):
                        book[side][Decimal(price)] = Decimal(quantity)
                    else:
                        book[side].pop(Decimal(price), None)
            last = diff["u"]
            applied += 1

        for diff in diffs:
            apply(diff)
        while any(flow.is_alive() for flow in flows):
            for frame in await socket.drain(0.5):
                apply(frame["data"])
        for flow in flows:
            flow.join()
        final = await asyncio.to_thread(_rest_depth, ex.url, symbol)
        while last < int(final["lastUpdateId"]):
            for diff in await socket.until(1, f"depth.{symbol}", timeout=10):
                apply(diff)
        await socket.close()
        assert last == int(final["lastUpdateId"]) and applied > 1000
        assert book["b"] == _levels(final["bids"]) and book["a"] == _levels(final["asks"])
        assert book["b"] and book["a"] and max(book["b"]) < min(book["a"])

    asyncio.run(run())


def test_private_streams_deliver_only_the_subscribers_own_updates(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    alice, bob = new_traders(ex, 2, "10000")
    symbol = new_market(ex, alice, bob)
    base = symbol.split("_")[0]
    private = ("account.orderUpdate", f"account.orderUpdate.{symbol}", "account.balanceUpdate")

    async def run() -> None:
        sockets = {name: await Socket.open(ex.url) for name in ("alice", "bob", "stranger", "forger")}
        await sockets["alice"].subscribe(*private, keys=alice.keys)
        await sockets["bob"].subscribe(*private, keys=bob.keys)
        await sockets["stranger"].subscribe(*private, keys=KeyPair.generate())
        forged = signature(alice.keys)
        forged[1] = "A" * 86 + "=="
        await sockets["forger"].send({"method": "SUBSCRIBE", "params": list(private), "signature": forged})
        await asyncio.sleep(0.3)
        ask = await asyncio.to_thread(limit, alice, symbol, "Ask", "10", "1")
        bid = await asyncio.to_thread(limit, bob, symbol, "Bid", "10", "1")
        rest = await asyncio.to_thread(limit, alice, symbol, "Bid", "5", "0.5")
        cancel = alice.delete("/api/v1/order", "orderCancel", {"symbol": symbol, "orderId": rest["id"]})
        assert cancel.status_code == 200, cancel.text
        ioc = await asyncio.to_thread(limit, bob, symbol, "Bid", "9", "1", timeInForce="IOC")
        frames = {name: await socket.drain(1.0) for name, socket in sockets.items()}
        for socket in sockets.values():
            await socket.close()

        for name in ("stranger", "forger"):
            assert frames[name] == [{"id": None, "error": {"code": 4003, "message": "Invalid signature"}}]

        def orders(name: str, stream: str) -> list[tuple[str, str, str]]:
            return [(f["data"]["e"], f["data"]["i"], f["data"]["X"]) for f in frames[name] if f["stream"] == stream]

        for stream in private[:2]:
            assert orders("alice", stream) == [
                ("orderAccepted", ask["id"], "New"),
                ("orderFill", ask["id"], "Filled"),
                ("orderAccepted", rest["id"], "New"),
                ("orderCancelled", rest["id"], "Cancelled"),
            ]
            bob_orders = orders("bob", stream)
            assert bob_orders[:2] == [("orderAccepted", bid["id"], "New"), ("orderFill", bid["id"], "Filled")]
            assert bob_orders[-1] == ("orderExpired", ioc["id"], "Expired")
            assert {i for _, i, _ in bob_orders} == {bid["id"], ioc["id"]}

        fill = next(f["data"] for f in frames["alice"] if f["data"].get("e") == "orderFill")
        assert (fill["S"], fill["o"], fill["f"], fill["p"], fill["q"]) == ("Ask", "LIMIT", "GTC", "10.00", "1.00")
        assert (fill["l"], fill["L"], fill["z"], fill["Z"], fill["m"], fill["N"]) == (
            "1.00",
            "10.00",
            "1.00",
            "10.000000",
            True,
            "USDC",
        )
        assert isinstance(fill["t"], int) and isinstance(fill["T"], int) and isinstance(fill["E"], int)

        for name, client in (("alice", alice), ("bob", bob)):
            updates = [f["data"] for f in frames[name] if f["stream"] == "account.balanceUpdate"]
            assert updates and {u["a"] for u in updates} <= {base, "USDC"}
            last = {u["a"]: (u["A"], u["L"]) for u in updates}
            held = await asyncio.to_thread(client.balances)
            for asset, (available, locked) in last.items():
                assert Decimal(available) == Decimal(held[asset]["available"])
                assert Decimal(locked) == Decimal(held[asset]["locked"])

    asyncio.run(run())
