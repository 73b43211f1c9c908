"""ccxt's own `backpack` class, unchanged but for its URLs, drives the server; ccxt's validators check the results.

Every test runs twice: against the one-process server, and against a gateway whose engine
is another server, over Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest
from ccxt.test.exchange.base.test_deposit_withdrawal import test_deposit_withdrawal as check_transaction
from ccxt.test.exchange.base.test_ohlcv import test_ohlcv as check_ohlcv
from ccxt.test.exchange.base.test_order import test_order as check_order
from ccxt.test.exchange.base.test_order_book import test_order_book as check_order_book
from ccxt.test.exchange.base.test_ticker import test_ticker as check_ticker
from ccxt.test.exchange.base.test_trade import test_trade as check_trade

from tests.api.client import Client, ok
from tests.api.conftest import Exchange, serve_exchange

SOL = "SOL/USDC"
LEDGER_TRANSFER = {"txid": "no chain transaction", "type": "ccxt's backpack never sets it", "updated": "nor this"}
"""Properties ccxt's transaction validator requires that a ledger transfer cannot have (or ccxt never fills in)."""


def backpack(url: str, client: Client | None = None) -> Any:
    """ccxt.backpack pointed at `url`, with the client's key if given."""
    credentials = {"apiKey": client.keys.public_key, "secret": client.keys.secret} if client else {}
    exchange = ccxt.backpack({**credentials, "enableRateLimit": False})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = url
    return exchange


@pytest.fixture(scope="module", params=["one process", "gateway"])
def exchange(request: pytest.FixtureRequest, exchange: Exchange, database_name: str) -> Iterator[Exchange]:
    """The shared server, then an engine with a gateway over Redis (ccxt talks to the gateway)."""
    if request.param == "one process":
        yield exchange
    else:
        yield from serve_exchange(f"{database_name}_ccxt_gateway", gateway=True)


@pytest.fixture(scope="module")
def trader(exchange: Exchange) -> Iterator[tuple[Any, Any]]:
    """Two funded accounts behind ccxt: a maker and a taker."""
    maker, taker = exchange.new_account(), exchange.new_account()
    for client in (maker, taker):
        client.fund("SOL", "100")
        client.fund("USDC", "100000")
    yield backpack(exchange.url, maker), backpack(exchange.url, taker)


def test_public_methods_pass_ccxt_validators(exchange: Exchange, trader: tuple[Any, Any]) -> None:
    maker, taker = trader
    maker.load_markets()
    maker.create_order(SOL, "limit", "sell", 1, 120)
    taker.create_order(SOL, "limit", "buy", 0.5, 121)
    maker.create_order(SOL, "limit", "buy", 1, 110)
    public = backpack(exchange.url)
    markets = public.load_markets()
    assert markets[SOL]["precision"]["price"] == 0.01 and markets[SOL]["active"] is True
    now = public.milliseconds()

    book = public.fetch_order_book(SOL)
    check_order_book(public, {}, "fetchOrderBook", book, SOL)
    assert book["asks"][0] == [120.0, 0.5] and book["bids"][0][0] >= 110.0

    ticker = public.fetch_ticker(SOL)
    check_ticker(public, {}, "fetchTicker", ticker, SOL)
    assert ticker["last"] == 120.0
    tickers = public.fetch_tickers([SOL])
    check_ticker(public, {}, "fetchTickers", tickers[SOL], SOL)

    candles = public.fetch_ohlcv(SOL, "1m")
    assert candles
    for candle in candles:
        check_ohlcv(public, {}, "fetchOHLCV", candle, SOL, now)
    assert public.fetch_ohlcv(SOL, "1h", since=now - 3_600_000)

    trades = public.fetch_trades(SOL, limit=10)
    assert trades and trades[-1]["side"] == "buy" and trades[-1]["price"] == 120.0
    for trade in trades:
        check_trade(public, {}, "fetchTrades", trade, SOL, now, True)
    assert public.fetch_status()["status"] == "ok"


def test_private_methods(trader: tuple[Any, Any]) -> None:
    maker, taker = trader
    maker.load_markets()
    taker.load_markets()
    now = maker.milliseconds()
    before = taker.fetch_balance()
    assert before["USDC"]["free"] > 0

    resting = maker.create_order(SOL, "limit", "sell", 2, 130, {"clientOrderId": 4242})
    check_order(maker, {}, "createOrder", resting, SOL, now)
    assert (resting["status"], resting["clientOrderId"], resting["amount"]) == ("open", "4242", 2.0)

    by_quantity = taker.create_order(SOL, "market", "buy", 0.5)
    check_order(taker, {}, "createOrder", by_quantity, SOL, now)
    assert (by_quantity["status"], by_quantity["filled"]) == ("closed", 0.5)
    by_cost = taker.create_order(SOL, "market", "buy", None, None, {"cost": 13})
    assert (by_cost["status"], by_cost["filled"], by_cost["cost"]) == ("closed", 0.1, 13.0)

    batch = maker.create_orders(
        [
            {"symbol": SOL, "type": "limit", "side": "sell", "amount": 1, "price": 140},
            {"symbol": SOL, "type": "limit", "side": "sell", "amount": 1, "price": 141},
        ]
    )
    assert [o["status"] for o in batch] == ["open", "open"]

    open_orders = maker.fetch_open_orders(SOL)
    assert {o["id"] for o in batch} | {resting["id"]} <= {o["id"] for o in open_orders}
    for order in open_orders:
        check_order(maker, {}, "fetchOpenOrders", order, SOL, now)
    assert maker.fetch_open_order(resting["id"], SOL)["filled"] == 0.1

    cancelled = maker.cancel_order(batch[0]["id"], SOL)
    assert cancelled["status"] == "canceled"
    fetched = maker.fetch_order(batch[0]["id"], SOL)
    assert (fetched["id"], fetched["status"]) == (batch[0]["id"], "canceled")
    assert maker.fetch_order(resting["id"], SOL)["status"] == "open"

    orders = maker.fetch_orders(SOL)
    assert {batch[0]["id"], resting["id"]} <= {o["id"] for o in orders}
    for order in orders:
        check_order(maker, {}, "fetchOrders", order, SOL, now)

    mine = taker.fetch_my_trades(SOL, since=now - 60_000)
    assert len(mine) >= 2 and all(t["side"] == "buy" and t["takerOrMaker"] == "taker" for t in mine)
    for trade in mine:
        check_trade(taker, {}, "fetchMyTrades", trade, SOL, now, False)

    remaining = maker.cancel_all_orders(SOL)
    assert remaining and all(o["status"] == "canceled" for o in remaining)
    assert maker.fetch_open_orders(SOL) == []
    after = taker.fetch_balance()
    assert after["SOL"]["free"] > before["SOL"]["free"]


def test_ccxt_exception_classes(exchange: Exchange, trader: tuple[Any, Any]) -> None:
    maker, _ = trader
    maker.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        maker.create_order(SOL, "limit", "buy", 1_000_000, 100)
    stranger = backpack(exchange.url, Client(exchange.url, exchange.alice.keys.generate()))
    stranger.load_markets()
    with pytest.raises(ccxt.AuthenticationError):
        stranger.fetch_balance()
    with pytest.raises(ccxt.BadSymbol):
        maker.privatePostApiV1Order(
            {"symbol": "NOPE_USDC", "side": "Bid", "orderType": "Limit", "price": "1", "quantity": "1"}
        )
    with pytest.raises(ccxt.BadSymbol):
        maker.fetch_ticker("NOPE/USDC")


def test_deposits_and_withdrawals_pass_ccxt_validators(exchange: Exchange) -> None:
    client = exchange.new_account()
    client.fund("SOL", "3.5")
    time.sleep(0.005)
    client.fund("USDC", "1000.25")
    body = {"symbol": "SOL", "quantity": "1.25", "transferId": "ccxt-out"}
    assert client.post("/exchange/v1/capital/withdraw", "withdraw", body).status_code == 200
    other = exchange.new_account()
    other.fund("SOL", "7")
    ccxt_client = backpack(exchange.url, client)
    ccxt_client.load_markets()
    now = ccxt_client.milliseconds()

    deposits = ccxt_client.fetch_deposits()
    assert [(d["currency"], d["amount"], d["status"], d["internal"]) for d in deposits] == [
        ("SOL", 3.5, "ok", False),
        ("USDC", 1000.25, "ok", False),
    ]
    for item in deposits:
        check_transaction(
            ccxt_client, {**LEDGER_TRANSFER, "fee": "a deposit has none"}, "fetchDeposits", item, None, now
        )
        assert (item["network"], item["addressFrom"], item["addressTo"]) == ("administrator", None, None)
    assert [d["amount"] for d in ccxt_client.fetch_deposits("SOL")] == [3.5]
    assert [d["id"] for d in ccxt_client.fetch_deposits(limit=1)] == [deposits[-1]["id"]]
    assert ccxt_client.fetch_deposits(since=now + 60_000) == []

    withdrawals = ccxt_client.fetch_withdrawals()
    assert [(w["currency"], w["amount"], w["status"], w["fee"]) for w in withdrawals] == [
        ("SOL", 1.25, "ok", {"cost": 0.0, "currency": "SOL"})
    ]
    (withdrawal,) = withdrawals
    check_transaction(
        ccxt_client, {**LEDGER_TRANSFER, "network": "no chain"}, "fetchWithdrawals", withdrawal, "SOL", now
    )
    assert withdrawal["id"].isdigit() and withdrawal["info"]["identifier"] == f"withdraw:{client.account_id}:ccxt-out"
    assert ccxt_client.fetch_withdrawals(since=withdrawal["timestamp"], params={"until": withdrawal["timestamp"]})
    assert ccxt_client.fetch_withdrawals(params={"until": withdrawal["timestamp"] - 1}) == []
    assert ccxt_client.fetch_withdrawals("USDC") == []


def test_fetch_order_and_its_trades_older_than_the_newest_100(exchange: Exchange) -> None:
    """An order that filled, then 120 newer orders: ccxt still fetches it and its fills by id
    (`orderId` filters `/wapi/v1/history/orders` and `/fills`, so no page of 100 hides it)."""
    seller, buyer = exchange.new_account(), exchange.new_account()
    seller.fund("SOL", "10")
    buyer.fund("USDC", "100000")
    resting = seller.place(symbol="SOL_USDC", side="Ask", orderType="Limit", price="150", quantity="2").json()
    buyer.place(symbol="SOL_USDC", side="Bid", orderType="Limit", price="150", quantity="0.5")
    buyer.place(symbol="SOL_USDC", side="Bid", orderType="Limit", price="150", quantity="0.7")
    newer = {"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "100", "quantity": "0.01"}
    for _ in range(6):
        ok(buyer.post("/api/v1/orders", "orderExecute", [newer] * 20))
    ok(buyer.delete("/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"}))
    old = ok(buyer.get("/wapi/v1/history/orders", "orderHistoryQueryAll", {"symbol": "SOL_USDC", "limit": "1000"}))
    assert len(old) == 122
    oldest = old[-1]["id"]
    ccxt_buyer = backpack(exchange.url, buyer)
    ccxt_buyer.load_markets()
    assert oldest not in {o["id"] for o in ccxt_buyer.fetch_orders(SOL)}, "the default page is the newest 100"
    now = ccxt_buyer.milliseconds()

    order = ccxt_buyer.fetch_order(oldest, SOL)
    check_order(ccxt_buyer, {}, "fetchOrder", order, SOL, now)
    assert (order["id"], order["status"], order["filled"], order["price"]) == (oldest, "closed", 0.5, 150.0)
    fills = ccxt_buyer.fetch_my_trades(SOL, params={"orderId": oldest})
    assert [(t["order"], t["amount"], t["price"], t["side"]) for t in fills] == [(oldest, 0.5, 150.0, "buy")]
    for trade in fills:
        check_trade(ccxt_buyer, {}, "fetchMyTrades", trade, SOL, now, False)
    ccxt_seller = backpack(exchange.url, seller)
    assert [t["amount"] for t in ccxt_seller.fetch_my_trades(SOL, params={"orderId": resting["id"]})] == [0.5, 0.7]
    assert ccxt_seller.fetch_order(resting["id"], SOL)["filled"] == 1.2
    ok(seller.delete("/api/v1/orders", "orderCancelAll", {"symbol": "SOL_USDC"}))  # the shared book as it was


def test_withdraw_deposit_address_and_chain_deposits_pass_ccxt_validators(exchange: Exchange) -> None:
    client = exchange.new_account()
    client.fund("SOL", "5")
    ccxt_client = backpack(exchange.url, client)
    ccxt_client.load_markets()
    now = ccxt_client.milliseconds()
    assert list(ccxt_client.currencies["SOL"]["networks"]) == ["SOL"]

    address = ccxt_client.fetch_deposit_address("USDC", {"network": "SOL"})
    assert address["currency"] == "USDC" and address["address"]
    assert ccxt_client.fetch_deposit_address("SOL", {"network": "SOL"})["address"] == address["address"]
    body = {"symbol": "USDC", "quantity": "250", "address": address["address"], "transactionHash": "4vJ9Sig"}
    assert exchange.admin.post("/exchange/v1/capital/deposit", "deposit", body).status_code == 200
    (chain_deposit,) = [d for d in ccxt_client.fetch_deposits("USDC")]
    check_transaction(
        ccxt_client,
        {"type": "ccxt's backpack never sets it", "updated": "nor this", "fee": "a deposit has none"},
        "fetchDeposits",
        chain_deposit,
        "USDC",
        now,
    )
    assert (chain_deposit["txid"], chain_deposit["network"], chain_deposit["addressTo"]) == (
        "4vJ9Sig",
        "SOL",
        address["address"],
    )
    assert (chain_deposit["amount"], chain_deposit["status"]) == (250.0, "ok")

    withdrawal = ccxt_client.withdraw("SOL", 1.5, "So1Destination", params={"network": "SOL"})
    pending = {"type": "ccxt's backpack never sets it", "updated": "nor this", "txid": "none until sent"}
    check_transaction(ccxt_client, pending, "withdraw", withdrawal, "SOL", now)
    assert (withdrawal["status"], withdrawal["amount"], withdrawal["addressTo"], withdrawal["network"]) == (
        "pending",
        1.5,
        "So1Destination",
        "SOL",
    )
    assert ccxt_client.fetch_balance()["SOL"]["free"] == 3.5
    with pytest.raises(ccxt.BadRequest):
        ccxt_client.withdraw("SOL", 1, "0xabc", params={"network": "ERC20"})  # SOL is listed on Solana only
    settled = {"id": withdrawal["id"], "transactionHash": "3sentSig"}
    assert exchange.admin.post("/admin/v1/withdrawals/confirm", "withdrawalConfirm", settled).status_code == 200
    (sent,) = ccxt_client.fetch_withdrawals("SOL")
    check_transaction(
        ccxt_client,
        {"type": "ccxt's backpack never sets it", "updated": "nor this"},
        "fetchWithdrawals",
        sent,
        "SOL",
        now,
    )
    assert (sent["id"], sent["status"], sent["txid"]) == (withdrawal["id"], "ok", "3sentSig")

    bounced = ccxt_client.withdraw("SOL", 2, "So1Destination", params={"network": "SOL"})
    assert exchange.admin.post("/admin/v1/withdrawals/fail", "withdrawalFail", {"id": bounced["id"]}).status_code == 200
    failed = ccxt_client.fetch_withdrawals("SOL", params={"sortDirection": "Desc"})[-1]
    check_transaction(ccxt_client, pending, "fetchWithdrawals", failed, "SOL", now)
    assert (failed["id"], failed["status"]) == (bounced["id"], "failed")
    assert ccxt_client.fetch_balance()["SOL"]["free"] == 3.5
    oldest_first = ccxt_client.fetch_withdrawals("SOL", params={"sortDirection": "Asc"})
    assert [w["id"] for w in oldest_first] == [withdrawal["id"], bounced["id"]]
