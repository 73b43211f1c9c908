"""Order and fill history past the first page: `orderId` filters in the query, `sortDirection` both ways."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.api.client import Client, ok, refused
from tests.api.conftest import serve_exchange
from tests.api.test_ccxt import backpack

ORDERS = 121
"""More than a default page (100), so the oldest order is off the newest page."""

HISTORY = [("/wapi/v1/history/orders", "orderHistoryQueryAll"), ("/wapi/v1/history/fills", "fillHistoryQueryAll")]


SYMBOL = "SOL_USDC"


@pytest.fixture(scope="module")
def trader(database_name: str) -> Iterator[tuple[Client, list[str]]]:
    """On a server of its own, Bob's `ORDERS` small buys, each filled by Alice's one ask; their ids, oldest first."""
    for server in serve_exchange(f"{database_name}_history"):
        quantity = str(Decimal(ORDERS) / 100)
        ok(server.alice.place(symbol=SYMBOL, side="Ask", orderType="Limit", price="100.00", quantity=quantity))
        buy = {"symbol": SYMBOL, "side": "Bid", "orderType": "Limit", "price": "100.00", "quantity": "0.01"}
        ids: list[str] = []
        for first in range(0, ORDERS, 20):
            batch = [{**buy, "timeInForce": "IOC"} for _ in range(min(20, ORDERS - first))]
            for result in ok(server.bob.post("/api/v1/orders", "orderExecute", batch)):
                assert result["status"] == "Filled", result
                ids.append(result["id"])
        yield server.bob, sorted(ids, key=int)


@pytest.mark.parametrize(("path", "instruction"), HISTORY)
def test_order_id_finds_an_order_older_than_the_newest_page(
    trader: tuple[Client, list[str]], path: str, instruction: str
) -> None:
    client, ids = trader
    newest_page = ok(client.get(path, instruction, {"symbol": SYMBOL}))
    assert len(newest_page) == 100
    assert ids[0] not in {row.get("orderId", row.get("id")) for row in newest_page}
    found: list[dict[str, Any]] = ok(client.get(path, instruction, {"symbol": SYMBOL, "orderId": ids[0]}))
    assert len(found) == 1
    assert found[0].get("orderId", found[0].get("id")) == ids[0]
    assert ok(client.get(path, instruction, {"orderId": str(int(ids[-1]) + 10_000)})) == []


@pytest.mark.parametrize(("path", "instruction"), HISTORY)
def test_sort_direction_lists_oldest_or_newest_first(
    trader: tuple[Client, list[str]], path: str, instruction: str
) -> None:
    client, ids = trader

    def listed(direction: str, **more: str) -> list[str]:
        rows = ok(client.get(path, instruction, {"symbol": SYMBOL, "sortDirection": direction, **more}))
        return [row.get("orderId", row.get("id")) for row in rows]

    assert listed("Asc", limit="3") == ids[:3]
    assert listed("Asc", limit="2", offset="3") == ids[3:5]
    assert listed("Desc", limit="3") == ids[::-1][:3]
    default = ok(client.get(path, instruction, {"symbol": SYMBOL, "limit": "3"}))
    assert [row.get("orderId", row.get("id")) for row in default] == ids[::-1][:3]
    refused(client.get(path, instruction, {"sortDirection": "asc"}), 400, "INVALID_CLIENT_REQUEST")


def test_ccxt_fetch_order_finds_the_oldest_order(trader: tuple[Client, list[str]]) -> None:
    client, ids = trader
    ccxt_client = backpack(client.url, client)
    order = ccxt_client.fetch_order(ids[0], "SOL/USDC")
    assert (order["id"], order["status"], order["filled"]) == (ids[0], "closed", 0.01)
    oldest = ccxt_client.fetch_orders("SOL/USDC", limit=2, params={"sortDirection": "Asc"})
    assert [o["id"] for o in oldest] == ids[:2]
