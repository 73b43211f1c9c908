"""Several API keys per account: add, list and revoke them, with no escalation of scopes.

Each test opens its own account through the admin route, so the shared server's Alice
and Bob are left alone, and talks to the real server over real sockets.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx

from exchange.api.auth import KeyPair
from tests.api.client import Client, ok, refused
from tests.api.conftest import Exchange
from tests.streams.wsclient import Socket

KEYS = "/exchange/v1/keys"
BID = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "1", "quantity": "1"}


def add_key(owner: Client, scopes: str | None = None) -> Client:
    """Register a fresh key to `owner`'s account; the client that signs with it."""
    keys = KeyPair.generate()
    params = {"publicKey": keys.public_key} if scopes is None else {"publicKey": keys.public_key, "scopes": scopes}
    ok(owner.post(KEYS, "keyCreate", params, new_key=keys))
    return Client(owner.url, keys, owner.account_id)


def listed(client: Client) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = ok(client.get(KEYS, "keyQueryAll"))
    return keys


def revoke(client: Client, public_key: str) -> httpx.Response:
    return client.delete(KEYS, "keyRevoke", {"publicKey": public_key})


def test_a_second_trade_key_places_orders_and_both_keys_are_listed(exchange: Exchange) -> None:
    owner = exchange.new_account()
    owner.fund("USDC", "100")
    started = int(time.time() * 1000)
    second_keys = KeyPair.generate()
    params = {"publicKey": second_keys.public_key, "scopes": "read,trade"}
    added = ok(owner.post(KEYS, "keyCreate", params, new_key=second_keys))
    assert added["publicKey"] == second_keys.public_key
    assert added["scopes"] == ["read", "trade"] and added["revoked"] is False
    assert started - 1000 <= added["createdAt"] <= int(time.time() * 1000) + 1000
    second = Client(exchange.url, second_keys, owner.account_id)

    order = ok(second.place(**BID))
    assert order["status"] == "New"
    assert [o["id"] for o in ok(owner.get("/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"}))] == [order["id"]]
    assert owner.balances()["USDC"]["locked"] == second.balances()["USDC"]["locked"] == "1.000000"

    keys = listed(second)
    assert keys == listed(owner)
    assert [k["publicKey"] for k in keys] == [owner.keys.public_key, second_keys.public_key]
    assert all(k["scopes"] == ["read", "trade"] and k["revoked"] is False for k in keys)
    assert keys[0]["createdAt"] <= keys[1]["createdAt"]
    assert keys[1] == added

    default = add_key(second)
    assert listed(owner)[-1]["publicKey"] == default.keys.public_key
    assert listed(owner)[-1]["scopes"] == ["read", "trade"]


def test_a_read_only_key_can_neither_escalate_nor_revoke_a_trade_key(exchange: Exchange) -> None:
    owner = exchange.new_account()
    reader = add_key(owner, "read")
    before = listed(owner)
    assert before[-1]["scopes"] == ["read"]

    for scopes in ("trade", "read,trade"):
        new = KeyPair.generate()
        refused(
            reader.post(KEYS, "keyCreate", {"publicKey": new.public_key, "scopes": scopes}, new_key=new),
            403,
            "FORBIDDEN",
        )
    refused(revoke(reader, owner.keys.public_key), 403, "FORBIDDEN")
    refused(reader.place(**BID), 403, "FORBIDDEN")
    for scopes in ("admin", "read,admin"):
        for signer in (owner, reader):
            new = KeyPair.generate()
            params = {"publicKey": new.public_key, "scopes": scopes}
            refused(signer.post(KEYS, "keyCreate", params, new_key=new), 403, "FORBIDDEN")
    assert listed(owner) == before
    ok(owner.get("/api/v1/capital", "balanceQuery"))

    another_reader = add_key(reader)
    assert listed(owner)[-1]["scopes"] == ["read"]
    refused(another_reader.place(**BID), 403, "FORBIDDEN")


def test_a_revoked_key_is_refused_at_its_next_request_and_the_other_key_works(exchange: Exchange) -> None:
    owner = exchange.new_account()
    owner.fund("USDC", "10")
    second = add_key(owner)
    ok(second.get("/api/v1/capital", "balanceQuery"))  # its principal is cached now

    revoked = ok(revoke(owner, second.keys.public_key))
    assert revoked["publicKey"] == second.keys.public_key and revoked["revoked"] is True
    refused(second.get("/api/v1/capital", "balanceQuery"), 401, "UNAUTHORIZED")
    refused(second.place(**BID), 401, "UNAUTHORIZED")
    refused(second.get(KEYS, "keyQueryAll"), 401, "UNAUTHORIZED")
    ok(owner.place(**BID))

    keys = listed(owner)
    assert [(k["publicKey"], k["revoked"]) for k in keys] == [
        (owner.keys.public_key, False),
        (second.keys.public_key, True),
    ]
    assert keys[1] == revoked
    assert ok(revoke(owner, second.keys.public_key)) == revoked  # idempotent

    itself = add_key(owner)
    assert ok(revoke(itself, itself.keys.public_key))["revoked"] is True
    refused(itself.get("/api/v1/capital", "balanceQuery"), 401, "UNAUTHORIZED")
    ok(owner.get("/api/v1/capital", "balanceQuery"))


def test_a_revoked_key_cannot_subscribe_to_private_streams(exchange: Exchange) -> None:
    owner = exchange.new_account()
    second = add_key(owner)

    async def subscription_errors(keys: KeyPair) -> list[dict[str, Any]]:
        socket = await Socket.open(exchange.url)
        try:
            await socket.subscribe("account.orderUpdate", keys=keys)
            return [frame for frame in await socket.barrier() if "error" in frame]
        finally:
            await socket.close()

    assert asyncio.run(subscription_errors(second.keys)) == []
    ok(revoke(owner, second.keys.public_key))
    errors = asyncio.run(subscription_errors(second.keys))
    assert [frame["error"]["code"] for frame in errors] == [4003], errors
    assert asyncio.run(subscription_errors(owner.keys)) == []


def test_another_accounts_key_is_not_found_and_stays_usable(exchange: Exchange) -> None:
    owner, other = exchange.new_account(), exchange.new_account()
    refused(revoke(owner, other.keys.public_key), 404, "RESOURCE_NOT_FOUND")
    refused(revoke(owner, KeyPair.generate().public_key), 404, "RESOURCE_NOT_FOUND")
    refused(revoke(owner, exchange.admin.keys.public_key), 404, "RESOURCE_NOT_FOUND")
    ok(other.get("/api/v1/capital", "balanceQuery"))
    assert [k["publicKey"] for k in listed(other)] == [other.keys.public_key]
    assert [k["publicKey"] for k in listed(owner)] == [owner.keys.public_key]


def test_registered_and_malformed_keys_are_400(exchange: Exchange) -> None:
    owner, other = exchange.new_account(), exchange.new_account()
    gone = add_key(owner)
    ok(revoke(owner, gone.keys.public_key))
    before = listed(owner)
    raw = base64.b64decode(KeyPair.generate().public_key)
    for keys in (owner.keys, other.keys, gone.keys, exchange.admin.keys):
        reply = owner.post(KEYS, "keyCreate", {"publicKey": keys.public_key}, new_key=keys)
        refused(reply, 400, "PRECONDITION_FAILED")  # a state of the exchange, not the request's form
        assert "already registered" in reply.json()["message"]
    canonical = base64.b64encode(raw).decode()  # 43 characters and "=": the last one's 2 low bits are padding
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    non_canonical = canonical[:42] + alphabet[alphabet.index(canonical[42]) | 1] + "="
    assert non_canonical != canonical and base64.b64decode(non_canonical) == raw
    for params in (
        {},
        {"publicKey": "not base64!"},
        {"publicKey": base64.b64encode(raw[:31]).decode()},
        {"publicKey": base64.b64encode(raw + raw).decode()},
        {"publicKey": non_canonical},
        {"publicKey": 12},
        {"publicKey": True},
        {"publicKey": KeyPair.generate().public_key, "scopes": "read,root"},
        {"publicKey": KeyPair.generate().public_key, "scopes": ""},
        {"publicKey": KeyPair.generate().public_key, "scopes": 7},
    ):
        refused(owner.post(KEYS, "keyCreate", params), 400, "INVALID_CLIENT_REQUEST")
    for params in ({}, {"publicKey": "not base64!"}, {"publicKey": 3}):
        refused(owner.delete(KEYS, "keyRevoke", params), 400, "INVALID_CLIENT_REQUEST")
    refused(owner.post(KEYS, "keyCreate", {"publicKey": [1]}), 400, "INVALID_CLIENT_REQUEST")
    assert listed(owner) == before


def test_adding_a_key_needs_the_new_keys_own_signature(exchange: Exchange) -> None:
    owner, other = exchange.new_account(), exchange.new_account()
    before = listed(owner)
    new = KeyPair.generate()
    params = {"publicKey": new.public_key, "scopes": "read"}
    refused(owner.post(KEYS, "keyCreate", params), 401, "UNAUTHORIZED")
    refused(owner.post(KEYS, "keyCreate", params, new_key=KeyPair.generate()), 401, "INVALID_SIGNATURE")
    wrong_request = {**params, "scopes": "read,trade"}
    proof = owner.keys.headers("keyCreate", [wrong_request], new_key=new)["X-Key-Signature"]
    reply = owner.request("POST", KEYS, "keyCreate", params, headers={"X-Key-Signature": proof})
    refused(reply, 401, "INVALID_SIGNATURE")
    assert listed(owner) == before
    # A key someone merely saw (another account's, say) cannot be claimed: no proof is possible without its secret.
    claim = {"publicKey": other.keys.public_key}
    refused(owner.post(KEYS, "keyCreate", claim, new_key=KeyPair.generate()), 401, "INVALID_SIGNATURE")
    ok(owner.post(KEYS, "keyCreate", params, new_key=new))
    assert [k["publicKey"] for k in listed(owner)] == [owner.keys.public_key, new.public_key]


def test_the_operators_key_has_no_account_keys(exchange: Exchange) -> None:
    admin = exchange.admin
    refused(admin.get(KEYS, "keyQueryAll"), 403, "FORBIDDEN")
    refused(admin.post(KEYS, "keyCreate", {"publicKey": KeyPair.generate().public_key}), 403, "FORBIDDEN")
    refused(revoke(admin, exchange.alice.keys.public_key), 403, "FORBIDDEN")
    ok(exchange.alice.get("/api/v1/capital", "balanceQuery"))


def test_a_key_signed_for_another_instruction_is_refused(exchange: Exchange) -> None:
    owner = exchange.new_account()
    second = add_key(owner)
    reply = owner.request("DELETE", KEYS, "keyCreate", {"publicKey": second.keys.public_key})
    refused(reply, 401, "INVALID_SIGNATURE")
    ok(second.get("/api/v1/capital", "balanceQuery"))


def test_an_account_holds_at_most_100_unrevoked_keys(exchange: Exchange) -> None:
    owner = exchange.new_account()
    extra = [KeyPair.generate() for _ in range(99)]
    for keys in extra:
        ok(owner.post(KEYS, "keyCreate", {"publicKey": keys.public_key, "scopes": "read"}, new_key=keys))
    new = KeyPair.generate()
    reply = owner.post(KEYS, "keyCreate", {"publicKey": new.public_key}, new_key=new)
    refused(reply, 400, "PRECONDITION_FAILED")
    assert "at most 100" in reply.json()["message"]
    ok(revoke(owner, extra[0].public_key))
    add_key(owner)
    assert len(listed(owner)) == 101


def test_a_new_account_needs_a_well_formed_key(exchange: Exchange) -> None:
    raw = KeyPair.generate().public_key
    for public_key in ("not base64!", base64.b64encode(b"short").decode(), raw[:-2]):
        reply = exchange.admin.post("/exchange/v1/accounts", "accountCreate", {"publicKey": public_key})
        refused(reply, 400, "INVALID_CLIENT_REQUEST")
    ok(exchange.admin.post("/exchange/v1/accounts", "accountCreate", {"publicKey": raw}))


def test_revoking_a_key_ends_the_private_subscriptions_it_signed(exchange: Exchange) -> None:
    owner = exchange.new_account()
    owner.fund("USDC", "100")
    second = add_key(owner)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        by_second, by_owner = await Socket.open(exchange.url), await Socket.open(exchange.url)
        try:
            await by_second.subscribe(
                "account.orderUpdate", "account.balanceUpdate", "trade.SOL_USDC", keys=second.keys
            )
            await by_owner.subscribe("account.orderUpdate", keys=owner.keys)
            assert await by_second.barrier() == await by_owner.barrier() == []
            await asyncio.to_thread(lambda: ok(revoke(owner, second.keys.public_key)))
            await asyncio.to_thread(lambda: ok(owner.place(**BID)))
            seen_by_owner = await by_owner.until(1, "account.orderUpdate")
            # The order's frames for both sockets were queued together: the owner's arrived, so would the second's.
            return await by_second.drain(0.5), seen_by_owner
        finally:
            await by_second.close()
            await by_owner.close()

    seen_by_second, seen_by_owner = asyncio.run(run())
    assert [frame["error"]["code"] for frame in seen_by_second] == [4003], seen_by_second
    assert "account.orderUpdate" in seen_by_second[0]["error"]["message"]
    assert [data["e"] for data in seen_by_owner] == ["orderAccepted"]
