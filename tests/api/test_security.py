"""Refused requests: each gets its 4xx and code, and the book and the balances are exactly as before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exchange.api.auth import KeyPair
from tests.api.client import Client, Params, refused, signed_form
from tests.api.conftest import Exchange

GOOD: Params = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "100", "quantity": "1"}


def snapshot(exchange: Exchange) -> tuple[Any, Any, Any]:
    """The SOL_USDC book and both accounts' balances."""
    depth = httpx.get(f"{exchange.url}/api/v1/depth", params={"symbol": "SOL_USDC"}).json()
    return depth["bids"], depth["asks"], (exchange.alice.balances(), exchange.bob.balances())


@pytest.fixture
def unchanged(exchange: Exchange) -> Iterator[None]:
    """Asserts after the test that nothing changed."""
    before = snapshot(exchange)
    yield
    assert snapshot(exchange) == before


def raw(client: Client, method: str, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return client.http.request(method, path, content=body, headers={"Content-Type": "application/json", **headers})


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"timestamp": int(time.time() * 1000) - 10_000}, "UNAUTHORIZED"),
        ({"timestamp": int(time.time() * 1000) + 3_600_000}, "UNAUTHORIZED"),
        ({"window": 60_001}, "UNAUTHORIZED"),
    ],
)
def test_bad_time_or_window(exchange: Exchange, change: dict[str, int], code: str) -> None:
    refused(exchange.alice.request("POST", "/api/v1/order", "orderExecute", GOOD, **change), 401, code)  # type: ignore[arg-type]


@pytest.mark.usefixtures("unchanged")
def test_signature_for_another_instruction_tampered_or_unknown_key(exchange: Exchange) -> None:
    alice = exchange.alice
    refused(alice.request("POST", "/api/v1/order", "orderCancel", GOOD), 401, "INVALID_SIGNATURE")
    headers = alice.keys.headers("orderExecute", [signed_form(GOOD)])
    tampered = {**GOOD, "quantity": "2"}
    refused(
        raw(alice, "POST", "/api/v1/order", httpx.Request("POST", "/", json=tampered).content, headers),
        401,
        "INVALID_SIGNATURE",
    )
    query = {"symbol": "SOL_USDC"}
    signed = alice.keys.headers("orderQueryAll", [query])
    reply = alice.http.get("/api/v1/orders", params={"symbol": "BTC_USDC"}, headers=signed)
    refused(reply, 401, "INVALID_SIGNATURE")
    stranger = Client(exchange.url, KeyPair.generate())
    refused(stranger.place(**GOOD), 401, "UNAUTHORIZED")
    refused(stranger.get("/api/v1/capital", "balanceQuery"), 401, "UNAUTHORIZED")
    refused(alice.http.post("/api/v1/order", json=GOOD), 401, "UNAUTHORIZED")


@pytest.mark.usefixtures("unchanged")
def test_scopes(exchange: Exchange) -> None:
    reader = exchange.new_account(scopes="read")
    assert reader.get("/api/v1/capital", "balanceQuery").status_code == 200
    refused(reader.place(**GOOD), 403, "FORBIDDEN")
    refused(exchange.alice.post("/admin/v1/assets", "assetCreate", {"symbol": "DOGE", "decimals": 8}), 403, "FORBIDDEN")
    refused(exchange.admin.place(**GOOD), 403, "FORBIDDEN")


def test_cancelling_another_accounts_order(exchange: Exchange) -> None:
    placed = exchange.alice.place(**GOOD)
    assert placed.status_code == 200
    order_id = placed.json()["id"]
    before = snapshot(exchange)
    refused(
        exchange.bob.delete("/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": order_id}),
        404,
        "RESOURCE_NOT_FOUND",
    )
    refused(
        exchange.bob.get("/api/v1/order", "orderQuery", {"symbol": "SOL_USDC", "orderId": order_id}),
        404,
        "RESOURCE_NOT_FOUND",
    )
    assert exchange.bob.delete("/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"}).status_code == 200
    assert snapshot(exchange) == before
    assert (
        exchange.alice.delete("/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": order_id}).status_code
        == 200
    )


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"symbol": "NOPE_USDC"}, "INVALID_MARKET"),
        ({"price": "100.001"}, "INVALID_PRICE"),
        ({"quantity": "0.001"}, "INVALID_QUANTITY"),
        ({"price": "-1"}, "INVALID_PRICE"),
        ({"price": "0"}, "INVALID_PRICE"),
        ({"quantity": "0"}, "INVALID_QUANTITY"),
        ({"quantity": "-5"}, "INVALID_QUANTITY"),
        ({"price": "1e2"}, "INVALID_PRICE"),
        ({"price": "NaN"}, "INVALID_PRICE"),
        ({"price": "Infinity"}, "INVALID_PRICE"),
        ({"quantity": "1" * 60}, "INVALID_QUANTITY"),
        ({"quantity": "100000000"}, "INSUFFICIENT_FUNDS"),
        ({"side": "Buy"}, "INVALID_CLIENT_REQUEST"),
        ({"clientId": 2**40}, "INVALID_CLIENT_REQUEST"),
        ({"postOnly": True, "timeInForce": "IOC"}, "INVALID_ORDER"),
        ({"orderType": "Market", "price": None, "quantity": None}, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_bad_orders(exchange: Exchange, change: Params, code: str) -> None:
    order = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    refused(exchange.alice.place(**order), 400, code)


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "body",
    [
        b'{"symbol": "SOL_USDC", "price": NaN}',
        b'{"symbol": "SOL_USDC"',
        b"[1, 2]",
        b'{"symbol": {"nested": 1}}',
        b'{"symbol": "SOL_USDC", "symbol": "BTC_USDC"}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies(exchange: Exchange, body: bytes) -> None:
    headers = exchange.alice.keys.headers("orderExecute", [signed_form(GOOD)])
    refused(raw(exchange.alice, "POST", "/api/v1/order", body, headers), 400, "INVALID_CLIENT_REQUEST")


@pytest.mark.usefixtures("unchanged")
def test_number_forms_in_json(exchange: Exchange) -> None:
    for text in ("1E2", "1e400", "-0", "0.0"):
        headers = exchange.alice.keys.headers("orderExecute", [{**GOOD, "price": text}])
        body = b'{"orderType":"Limit","price":%s,"quantity":"1","side":"Bid","symbol":"SOL_USDC"}' % text.encode()
        refused(raw(exchange.alice, "POST", "/api/v1/order", body, headers), 400, "INVALID_PRICE")


@pytest.mark.usefixtures("unchanged")
def test_oversized_body(exchange: Exchange) -> None:
    big = {**GOOD, "padding": "x" * (exchange.settings.max_body_bytes + 1)}
    refused(exchange.alice.place(**big), 413, "INVALID_CLIENT_REQUEST")

    def chunks() -> Iterator[bytes]:
        yield b'{"a": "'
        for _ in range(200):
            yield b"x" * 1024

    headers = {**exchange.alice.keys.headers("orderExecute", [GOOD]), "Content-Type": "application/json"}
    reply = exchange.alice.http.post("/api/v1/order", content=chunks(), headers=headers)
    refused(reply, 413, "INVALID_CLIENT_REQUEST")


def test_unknown_routes_and_methods(exchange: Exchange, http: httpx.Client) -> None:
    refused(http.get(f"{exchange.url}/api/v1/nope"), 404, "RESOURCE_NOT_FOUND")
    refused(http.put(f"{exchange.url}/api/v1/order"), 405, "INVALID_CLIENT_REQUEST")
    refused(http.get(f"{exchange.url}/api/v1/depth", params={"symbol": "NOPE"}), 400, "INVALID_MARKET")
    refused(
        http.get(f"{exchange.url}/api/v1/depth", params={"symbol": "SOL_USDC", "limit": 30}),
        400,
        "INVALID_CLIENT_REQUEST",
    )
    refused(
        http.get(f"{exchange.url}/api/v1/klines", params={"symbol": "SOL_USDC", "interval": "7m", "startTime": 0}),
        400,
        "INVALID_CLIENT_REQUEST",
    )


def test_rate_limits_answer_429_with_retry_after(strict_exchange: str) -> None:
    client = Client(strict_exchange, KeyPair.generate())
    signup = client.post("/exchange/v1/accounts", "accountCreate", {"publicKey": client.keys.public_key})
    assert signup.status_code == 200, signup.text
    statuses = [client.get("/api/v1/capital", "balanceQuery").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:], statuses
    replies = [httpx.get(f"{strict_exchange}/api/v1/ping") for _ in range(12)]
    limited = [r for r in replies if r.status_code == 429]
    assert limited, [r.status_code for r in replies]
    refused(limited[0], 429, "TOO_MANY_REQUESTS")
    assert int(limited[0].headers["Retry-After"]) >= 1
