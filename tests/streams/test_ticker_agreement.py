"""REST `/api/v1/ticker` and the `ticker.` stream of a real server agree, field for field, after a run of trades.

Both come from `exchange.marketdata`'s ticker rule, REST over the stored 1-minute
candles and the stream over the live ones (`tests/persistence/test_tickers.py` drives
the clock across the 24-hour edge; this is the common case, end to end).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.conftest import Exchange
from tests.streams.wsclient import Socket, limit, new_market

STREAM_LETTERS = {
    "firstPrice": "o",
    "lastPrice": "c",
    "high": "h",
    "low": "l",
    "volume": "v",
    "quoteVolume": "V",
    "trades": "n",
}
"""A REST ticker field and the stream's letter for it."""


def test_rest_and_stream_tickers_agree_after_trades(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    symbol = new_market(ex, ex.alice, ex.bob)
    fills = [("100.00", "1"), ("101.50", "0.5"), ("99.25", "2"), ("100.75", "0.25")]

    async def run() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        socket = await Socket.open(ex.url)
        await socket.subscribe(f"ticker.{symbol}")
        assert await socket.barrier() == []
        for price, quantity in fills:
            await asyncio.to_thread(limit, ex.alice, symbol, "Ask", price, quantity)
            await asyncio.to_thread(limit, ex.bob, symbol, "Bid", price, quantity)
        async with asyncio.timeout(10):
            streamed = (await socket.until(1, f"ticker.{symbol}"))[0]
            while streamed["n"] < len(fills):
                streamed = (await socket.until(1, f"ticker.{symbol}"))[0]
        await socket.close()
        async with httpx.AsyncClient(base_url=ex.url) as http:
            one = (await http.get("/api/v1/ticker", params={"symbol": symbol})).json()
            every = (await http.get("/api/v1/tickers")).json()
        return streamed, one, every

    streamed, rest, listed = asyncio.run(run())
    assert {field: rest[field] for field in STREAM_LETTERS} == {
        "firstPrice": "100.00",
        "lastPrice": "100.75",
        "high": "101.50",
        "low": "99.25",
        "volume": "3.75",
        "quoteVolume": "374.437500",
        "trades": "4",
    }
    assert (rest["priceChange"], rest["priceChangePercent"]) == ("0.75", "0.007500")
    assert {field: streamed[letter] for field, letter in STREAM_LETTERS.items() if field != "trades"} == {
        field: rest[field] for field in STREAM_LETTERS if field != "trades"
    }
    assert streamed["n"] == int(rest["trades"]) and streamed["s"] == rest["symbol"] == symbol
    assert [ticker for ticker in listed if ticker["symbol"] == symbol] == [rest]
