"""The account's settings (`/api/v1/account`, GET and PATCH) and price bands over real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.client import Client, ok, refused
from tests.api.conftest import Exchange, serve_exchange

ACCOUNT = "/api/v1/account"


@pytest.fixture(scope="module")
def banded(database_name: str) -> Iterator[Exchange]:
    """A server of its own with ETH_USDC listed with a band of 0.8x..1.25x, fees 3 and 7 bps."""
    for served in serve_exchange(f"{database_name}_bands"):
        ok(served.admin.post("/admin/v1/assets", "assetCreate", {"symbol": "ETH", "decimals": 8}))
        market = {
            "baseSymbol": "ETH", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01",
            "makerFeeBps": "3", "takerFeeBps": "7", "minMultiplier": "0.8", "maxMultiplier": "1.25",
        }  # fmt: skip
        listed = ok(served.admin.post("/admin/v1/markets", "marketCreate", market))
        assert listed["filters"]["price"]["minMultiplier"] == "0.8"
        for client in (served.alice, served.bob):
            client.fund("ETH", "100")
        yield served


def test_account_settings_are_spot_with_the_markets_fees(banded: Exchange) -> None:
    settings = ok(banded.alice.get(ACCOUNT, "accountQuery"))
    assert settings == {
        "autoBorrowSettlements": False,
        "autoLend": False,
        "autoRealizePnl": False,
        "autoRepayBorrows": False,
        "borrowLimit": "0",
        "futuresMakerFee": "0",
        "futuresTakerFee": "0",
        "leverageLimit": "1",
        "limitOrders": None,
        "liquidating": False,
        "positionLimit": "0",
        "spotMakerFee": "3",
        "spotTakerFee": "20",
        "triggerOrders": 0,
    }


def test_patch_restating_the_spot_settings_is_a_no_op(banded: Exchange) -> None:
    before = ok(banded.alice.get(ACCOUNT, "accountQuery"))
    same = {"autoLend": False, "autoBorrowSettlements": False, "autoRepayBorrows": False, "leverageLimit": "1.0"}
    assert ok(banded.alice.request("PATCH", ACCOUNT, "accountUpdate", same)) == before
    assert ok(banded.alice.request("PATCH", ACCOUNT, "accountUpdate", {})) == before


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"autoLend": True}, 400, "UNSUPPORTED_SETTING"),
        ({"autoBorrowSettlements": True}, 400, "UNSUPPORTED_SETTING"),
        ({"autoRepayBorrows": True}, 400, "UNSUPPORTED_SETTING"),
        ({"autoRealizePnl": True}, 400, "UNSUPPORTED_SETTING"),
        ({"leverageLimit": "10"}, 400, "UNSUPPORTED_SETTING"),
        ({"leverageLimit": "ten"}, 400, "INVALID_CLIENT_REQUEST"),
        ({"autoLend": "maybe"}, 400, "INVALID_CLIENT_REQUEST"),
        ({"marginMode": "cross"}, 400, "INVALID_CLIENT_REQUEST"),
    ],
)
def test_patch_refuses_what_spot_does_not_have(banded: Exchange, body: dict[str, Any], status: int, code: str) -> None:
    reply = banded.alice.request("PATCH", ACCOUNT, "accountUpdate", body)
    refused(reply, status, code)
    assert ok(banded.alice.get(ACCOUNT, "accountQuery"))["autoLend"] is False


def test_patch_needs_a_trade_key(banded: Exchange) -> None:
    reader = banded.new_account(scopes="read")
    ok(reader.get(ACCOUNT, "accountQuery"))
    assert reader.request("PATCH", ACCOUNT, "accountUpdate", {}).status_code in (401, 403)


def place(client: Client, side: str, price: str, quantity: str = "1") -> Any:
    return client.place(symbol="ETH_USDC", side=side, orderType="Limit", price=price, quantity=quantity)


def test_price_band_over_the_api(banded: Exchange) -> None:
    """No trade yet: anything goes; after a trade at 2000 the band is 1600..2500, both edges included."""
    alice, bob = banded.alice, banded.bob
    far = ok(place(alice, "Ask", "1000000"))
    ok(alice.delete("/api/v1/order", "orderCancel", {"symbol": "ETH_USDC", "orderId": far["id"]}))
    ok(place(alice, "Ask", "2000"))
    assert ok(place(bob, "Bid", "2000"))["status"] == "Filled"
    outside = place(alice, "Ask", "2500.01")
    refused(outside, 400, "INVALID_PRICE")
    assert outside.json()["message"] == (
        "price 2500.01 is outside the price band 1600.00..2500.00 (0.8x..1.25x the last trade price 2000.00)"
    )
    refused(place(bob, "Bid", "1599.99"), 400, "INVALID_PRICE")
    for side, price in (("Ask", "2500"), ("Bid", "1600")):
        order = ok(place(alice if side == "Ask" else bob, side, price))
        assert order["status"] == "New"
    markets = {m["symbol"]: m for m in ok(banded.alice.http.get("/api/v1/markets"))}
    assert {k: markets["ETH_USDC"]["filters"]["price"][k] for k in ("minMultiplier", "maxMultiplier")} == {
        "minMultiplier": "0.8",
        "maxMultiplier": "1.25",
    }
    assert markets["SOL_USDC"]["filters"]["price"]["minMultiplier"] is None
