"""Replays over real sockets: the identical signed request twice executes once, and the copy gets 401.

Each test captures one signed request (headers and body bytes, as an eavesdropper or a
retrying proxy would) and sends it twice; the second answer is 401 `Code.REPLAYED_REQUEST`
and the state shows exactly one effect. A websocket private subscription frame replayed
by another connection is refused and that connection receives none of the victim's
updates.
"""

from __future__ import annotations

import asyncio
import base64
import time
from decimal import Decimal
from typing import Any

import httpx
import orjson

from exchange.protocol.codes import Code
from tests.api.client import Client, ok, refused, signed_form
from tests.api.conftest import Exchange
from tests.streams.wsclient import Socket, signature

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def captured(client: Client, instruction: str, params: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body of one signed JSON request, to send as many times as wanted."""
    headers = client.keys.headers(instruction, [signed_form(params)])
    return {**headers, "Content-Type": "application/json"}, orjson.dumps(params)


def send_twice(client: Client, path: str, instruction: str, params: dict[str, Any]) -> httpx.Response:
    """Send one captured request twice; assert the copy is refused; return the first answer."""
    headers, body = captured(client, instruction, params)
    first = client.http.post(path, content=body, headers=headers)
    assert first.status_code == 200, first.text
    refused(client.http.post(path, content=body, headers=headers), 401, Code.REPLAYED_REQUEST)
    return first


def available(client: Client, symbol: str) -> Decimal:
    return Decimal(client.balances().get(symbol, {}).get("available", "0"))


def test_a_replayed_order_is_placed_once(exchange: Exchange) -> None:
    trader = exchange.new_account()
    trader.fund("USDC", "1000")
    order = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "10", "quantity": "1"}
    placed = send_twice(trader, "/api/v1/order", "orderExecute", order).json()
    orders = ok(trader.get("/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"}))
    assert [o["id"] for o in orders] == [placed["id"]]
    assert available(trader, "USDC") == Decimal("990")


def test_a_replayed_withdrawal_without_transfer_id_happens_once(exchange: Exchange) -> None:
    trader = exchange.new_account()
    trader.fund("USDC", "100")
    send_twice(trader, "/exchange/v1/capital/withdraw", "withdraw", {"symbol": "USDC", "quantity": "30"})
    assert available(trader, "USDC") == Decimal("70")
    withdrawals = ok(trader.get("/wapi/v1/capital/withdrawals", "withdrawalQueryAll"))
    assert [Decimal(w["quantity"]) for w in withdrawals] == [30]


def test_a_replayed_operator_deposit_without_transfer_id_happens_once(exchange: Exchange) -> None:
    trader = exchange.new_account()
    deposit = {"symbol": "BTC", "quantity": "0.25", "accountId": str(trader.account_id)}
    send_twice(exchange.admin, "/exchange/v1/capital/deposit", "deposit", deposit)
    assert available(trader, "BTC") == Decimal("0.25")
    assert len(ok(trader.get("/wapi/v1/capital/deposits", "depositQueryAll"))) == 1


def test_a_replayed_signed_read_and_a_respelled_signature_are_refused(exchange: Exchange) -> None:
    alice = exchange.alice
    headers = alice.keys.headers("balanceQuery")
    assert alice.http.get("/api/v1/capital", headers=headers).status_code == 200
    refused(alice.http.get("/api/v1/capital", headers=headers), 401, Code.REPLAYED_REQUEST)
    # The last character of a 64-byte signature's base64 carries 4 spare bits: another spelling, same bytes.
    text = headers["X-Signature"]
    respelled = text[:-3] + ALPHABET[ALPHABET.index(text[-3]) ^ 1] + "=="
    assert respelled != text and base64.b64decode(respelled) == base64.b64decode(text)
    refused(
        alice.http.get("/api/v1/capital", headers={**headers, "X-Signature": respelled}), 401, Code.REPLAYED_REQUEST
    )


def test_a_fresh_signature_of_the_same_request_is_accepted(exchange: Exchange) -> None:
    alice = exchange.alice
    now = int(time.time() * 1000)
    first, second = (alice.keys.headers("balanceQuery", timestamp=now + i) for i in range(2))
    assert alice.http.get("/api/v1/capital", headers=first).status_code == 200
    assert alice.http.get("/api/v1/capital", headers=second).status_code == 200


def test_a_replayed_private_subscription_gets_none_of_the_victims_updates(exchange: Exchange) -> None:
    victim = exchange.new_account()
    victim.fund("USDC", "1000")
    streams = ["account.orderUpdate", "account.balanceUpdate"]
    frame = {"method": "SUBSCRIBE", "params": streams, "id": 1, "signature": signature(victim.keys)}

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        owner, thief = await Socket.open(exchange.url), await Socket.open(exchange.url)
        await owner.send(frame)
        assert await owner.barrier() == []
        await thief.send(frame)
        refusal = await thief.barrier()
        order = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "10", "quantity": "1"}
        ok(await asyncio.to_thread(victim.place, **order))
        seen = await owner.until(1, "account.orderUpdate")
        stolen = refusal + await thief.drain(1.0)
        await owner.close()
        await thief.close()
        return seen, stolen

    seen, stolen = asyncio.run(run())
    assert seen[0]["X"] == "New"
    assert stolen == [{"id": None, "error": {"code": 4003, "message": "Invalid signature"}}]


def test_one_connection_may_subscribe_twice_with_the_signature_of_one_millisecond(exchange: Exchange) -> None:
    """ccxt.pro signs `watch_orders` and `watch_balance` alike when they start in the same millisecond."""
    trader = exchange.new_account()
    signed = signature(trader.keys)

    async def run() -> list[dict[str, Any]]:
        socket = await Socket.open(exchange.url)
        for stream in ("account.orderUpdate", "account.balanceUpdate"):
            await socket.send({"method": "SUBSCRIBE", "params": [stream], "id": 1, "signature": signed})
        refusals = await socket.barrier()
        await asyncio.to_thread(trader.fund, "USDC", "5")
        update = await socket.until(1, "account.balanceUpdate")
        await socket.close()
        return refusals + update

    frames = asyncio.run(run())
    assert frames[:-1] == [] and frames[-1]["e"] == "balanceUpdate", frames
