"""ccxt.pro's own `backpack` class, unchanged but for its URLs, watches the server's streams.

Every test runs twice: against the one-process server, and against a gateway whose engine
is another server, over Redis.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import ccxt.pro
import pytest
from ccxt.test.exchange.base.test_ohlcv import test_ohlcv as check_ohlcv
from ccxt.test.exchange.base.test_order_book import test_order_book as check_order_book
from ccxt.test.exchange.base.test_ticker import test_ticker as check_ticker
from ccxt.test.exchange.base.test_trade import test_trade as check_trade

from tests.api.client import Client
from tests.api.conftest import Exchange, serve_exchange
from tests.streams.test_sync_private import _random_flow
from tests.streams.wsclient import limit, new_market, new_traders, ws_url


def pro(url: str, client: Client | None = None) -> Any:
    """ccxt.pro.backpack pointed at `url` for REST and at its root for the streams."""
    credentials = {"apiKey": client.keys.public_key, "secret": client.keys.secret} if client else {}
    exchange = ccxt.pro.backpack({**credentials, "enableRateLimit": False})
    exchange.urls["api"]["public"] = exchange.urls["api"]["private"] = url
    exchange.urls["api"]["ws"] = {"public": ws_url(url), "private": ws_url(url)}
    return exchange


@pytest.fixture(scope="module", params=["one process", "gateway"])
def streams_exchange(
    request: pytest.FixtureRequest, streams_exchange: Exchange, database_name: str
) -> Iterator[Exchange]:
    """The streams' server, then an engine with a gateway over Redis (ccxt.pro watches the gateway)."""
    if request.param == "one process":
        yield streams_exchange
    else:
        yield from serve_exchange(f"{database_name}_pro_gateway", gateway=True)


def test_watch_order_book_holds_its_sync_from_snapshot_and_diffs(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    traders = new_traders(ex, 2, "1000000")
    symbol_id = new_market(ex, *traders)

    async def run() -> None:
        client = pro(ex.url)
        try:
            await client.load_markets()
            symbol = client.markets_by_id[symbol_id][0]["symbol"]
            flows = [
                threading.Thread(target=_random_flow, args=([t], symbol_id, 150, n)) for n, t in enumerate(traders)
            ]
            for flow in flows:
                flow.start()
            book = await asyncio.wait_for(client.watch_order_book(symbol), 60)
            assert len(client.orderbooks[symbol].cache) == 0, "ccxt synced from the snapshot"
            for flow in flows:
                await asyncio.to_thread(flow.join)
            rest = await client.fetch_order_book(symbol)
            for _ in range(50):
                book = client.orderbooks[symbol].limit()
                if book["nonce"] >= rest["nonce"]:
                    break
                await asyncio.sleep(0.1)
            check_order_book(client, {}, "watchOrderBook", book, symbol)
            assert book["nonce"] == rest["nonce"]
            assert book["bids"] == rest["bids"] and book["asks"] == rest["asks"]
        finally:
            await client.close()

    asyncio.run(run())


def test_watch_trades_ticker_ohlcv_orders_balance(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    maker, taker = new_traders(ex, 2, "100000")
    symbol_id = new_market(ex, maker, taker)

    async def run() -> None:
        public, private = pro(ex.url), pro(ex.url, taker)
        try:
            await public.load_markets()
            await private.load_markets()
            symbol = public.markets_by_id[symbol_id][0]["symbol"]
            trades = asyncio.create_task(public.watch_trades(symbol))
            ticker = asyncio.create_task(public.watch_ticker(symbol))
            ohlcv = asyncio.create_task(public.watch_ohlcv(symbol, "1m"))
            orders = asyncio.create_task(private.watch_orders(symbol))
            balance = asyncio.create_task(private.watch_balance())
            await asyncio.sleep(2.0)  # ccxt acknowledges no subscription: give its SUBSCRIBE frames time to land
            now = public.milliseconds()
            await asyncio.to_thread(limit, maker, symbol_id, "Ask", "20", "3")
            placed = await asyncio.to_thread(limit, taker, symbol_id, "Bid", "20", "1.25")

            (trade,) = await asyncio.wait_for(trades, 10)
            check_trade(public, {}, "watchTrades", trade, symbol, now, True)
            assert (trade["side"], trade["price"], trade["amount"], trade["order"]) == ("buy", 20.0, 1.25, placed["id"])

            got_ticker = await asyncio.wait_for(ticker, 10)
            check_ticker(public, {}, "watchTicker", got_ticker, symbol)
            assert (got_ticker["last"], got_ticker["baseVolume"], got_ticker["quoteVolume"]) == (20.0, 1.25, 25.0)

            candles = await asyncio.wait_for(ohlcv, 10)
            for candle in candles:
                check_ohlcv(public, {}, "watchOHLCV", candle, symbol, public.milliseconds())
            assert candles[-1][1:] == [20.0, 20.0, 20.0, 20.0, 1.25]

            seen = await asyncio.wait_for(orders, 10)
            assert {o["id"] for o in seen} == {placed["id"]}
            while seen[-1]["status"] != "closed":
                seen = await asyncio.wait_for(private.watch_orders(symbol), 10)
            assert (seen[-1]["side"], seen[-1]["type"], seen[-1]["price"], seen[-1]["amount"]) == (
                "buy",
                "limit",
                20.0,
                1.25,
            )

            await asyncio.wait_for(balance, 10)
            codes = ("USDC", symbol.split("/")[0])

            def mismatched(held: dict[str, Any], rest: dict[str, Any]) -> list[str]:
                return [c for c in codes if (held[c]["free"], held[c]["used"]) != (rest[c]["free"], rest[c]["used"])]

            for _ in range(50):  # the last balance updates may still be on their way
                rest = await private.fetch_balance()
                if not mismatched(private.balance, rest):
                    break
                await asyncio.sleep(0.2)
            assert mismatched(private.balance, rest) == [], (private.balance, rest)
        finally:
            await public.close()
            await private.close()

    asyncio.run(run())
