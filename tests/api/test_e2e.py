"""End to end over real sockets: two accounts trade, and every route answers with Backpack's shapes."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx

from tests.api.conftest import Exchange

ORDER_KEYS = {
    "id", "clientId", "createdAt", "executedQuantity", "executedQuoteQuantity", "orderType", "postOnly", "price",
    "quantity", "quoteQuantity", "selfTradePrevention", "side", "status", "symbol", "timeInForce",
}  # fmt: skip


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert not (isinstance(body, dict) and "code" in body)
    return body


def test_two_accounts_trade_and_every_route_reports_it(exchange: Exchange, http: httpx.Client) -> None:
    alice, bob, url = exchange.alice, exchange.bob, exchange.url
    before_alice, before_bob = alice.balances(), bob.balances()

    ask = ok(alice.place(symbol="SOL_USDC", side="Ask", orderType="Limit", price="150.00", quantity="2", clientId=77))
    assert set(ask) >= ORDER_KEYS
    assert (ask["status"], ask["price"], ask["quantity"], ask["executedQuantity"]) == ("New", "150.00", "2.00", "0.00")
    assert ask["clientId"] == 77 and isinstance(ask["createdAt"], int)
    assert abs(ask["createdAt"] - time.time() * 1000) < 60_000

    depth = ok(http.get(f"{url}/api/v1/depth", params={"symbol": "SOL_USDC"}))
    assert ["150.00", "2.00"] in depth["asks"]
    assert isinstance(depth["lastUpdateId"], str) and depth["timestamp"] > 10**15

    bid = ok(bob.place(symbol="SOL_USDC", side="Bid", orderType="Limit", price="151", quantity="0.5"))
    assert (bid["status"], bid["executedQuantity"], bid["executedQuoteQuantity"]) == ("Filled", "0.50", "75.000000")

    after_alice, after_bob = alice.balances(), bob.balances()
    assert Decimal(after_alice["SOL"]["locked"]) == Decimal("1.5")
    assert Decimal(after_alice["USDC"]["available"]) - Decimal(before_alice["USDC"]["available"]) == Decimal("75")
    assert Decimal(after_bob["USDC"]["available"]) - Decimal(before_bob["USDC"]["available"]) == Decimal("-75")
    fee = Decimal("0.5") * Decimal("0.002")
    assert Decimal(after_bob["SOL"]["available"]) - Decimal(before_bob["SOL"]["available"]) == Decimal("0.5") - fee

    trades = ok(http.get(f"{url}/api/v1/trades", params={"symbol": "SOL_USDC", "limit": 5}))
    assert trades[0]["price"] == "150.00" and trades[0]["quantity"] == "0.50"
    assert trades[0]["isBuyerMaker"] is False and isinstance(trades[0]["id"], int)
    assert ok(http.get(f"{url}/api/v1/trades/history", params={"symbol": "SOL_USDC", "offset": 0}))[0] == trades[0]

    ticker = ok(http.get(f"{url}/api/v1/ticker", params={"symbol": "SOL_USDC"}))
    assert ticker["lastPrice"] == "150.00" and int(ticker["trades"]) >= 1
    assert any(t["symbol"] == "SOL_USDC" for t in ok(http.get(f"{url}/api/v1/tickers")))

    now = int(time.time())
    recent: dict[str, str | int] = {"symbol": "SOL_USDC", "interval": "1m", "startTime": now - 600}
    klines = ok(http.get(f"{url}/api/v1/klines", params=recent))
    assert klines[-1]["close"] == "150.00" and klines[-1]["start"].endswith(":00")
    assert ok(http.get(f"{url}/api/v1/klines", params={"symbol": "SOL_USDC", "interval": "1d", "startTime": 0}))

    open_orders = ok(alice.get("/api/v1/orders", "orderQueryAll", {"symbol": "SOL_USDC"}))
    mine = next(o for o in open_orders if o["id"] == ask["id"])
    assert (mine["status"], mine["executedQuantity"]) == ("PartiallyFilled", "0.50")
    one = ok(alice.get("/api/v1/order", "orderQuery", {"symbol": "SOL_USDC", "clientId": 77}))
    assert one == mine

    fills = ok(bob.get("/wapi/v1/history/fills", "fillHistoryQueryAll", {"symbol": "SOL_USDC", "fillType": "User"}))
    assert fills[0]["orderId"] == bid["id"] and fills[0]["isMaker"] is False and fills[0]["side"] == "Bid"
    assert fills[0]["fee"] == "0.001000000" and fills[0]["feeSymbol"] == "SOL"

    cancelled = ok(alice.delete("/api/v1/order", "orderCancel", {"symbol": "SOL_USDC", "orderId": ask["id"]}))
    assert (cancelled["status"], cancelled["executedQuantity"]) == ("Cancelled", "0.50")
    assert Decimal(alice.balances()["SOL"]["locked"]) == 0

    history = ok(alice.get("/wapi/v1/history/orders", "orderHistoryQueryAll", {"symbol": "SOL_USDC"}))
    past = next(o for o in history if o["id"] == ask["id"])
    assert past["status"] == "Cancelled" and isinstance(past["createdAt"], str)


def test_public_catalog_and_system_routes(exchange: Exchange, http: httpx.Client) -> None:
    url = exchange.url
    markets = ok(http.get(f"{url}/api/v1/markets"))
    sol = next(m for m in markets if m["symbol"] == "SOL_USDC")
    assert sol["filters"]["price"]["tickSize"] == "0.01" and sol["orderBookState"] == "Open"
    assert ok(http.get(f"{url}/api/v1/market", params={"symbol": "SOL_USDC"})) == sol
    assert {a["symbol"] for a in ok(http.get(f"{url}/api/v1/assets"))} == {"SOL", "BTC", "USDC"}
    assert ok(http.get(f"{url}/api/v1/status")) == {"status": "Ok", "message": None}
    assert http.get(f"{url}/api/v1/ping").text == "pong"
    assert abs(int(http.get(f"{url}/api/v1/time").text) - time.time() * 1000) < 60_000
    assert ok(http.get(f"{url}/api/v1/securities")) == []
    assert "/api/v1/order" in ok(http.get(f"{url}/openapi.json"))["paths"]
    assert "swagger-ui" in http.get(f"{url}/docs").text
