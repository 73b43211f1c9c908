"""Every public stream end to end: a real server, a real websocket client, known trades, exact frames."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.api.conftest import Exchange
from tests.streams.wsclient import Socket, limit, new_market


def _recent_us(value: object) -> None:
    assert isinstance(value, int)
    assert abs(time.time() * 1_000_000 - value) < 60_000_000


def test_public_streams_after_known_trades(streams_exchange: Exchange) -> None:
    ex = streams_exchange
    symbol = new_market(ex, ex.alice, ex.bob)
    streams = [
        f"depth.{symbol}",
        f"trade@{symbol}",
        f"ticker.{symbol}",
        f"bookTicker.{symbol}",
        f"kline.1m.{symbol}",
        f"kline@1h@{symbol}",
        f"depth.200ms.{symbol}",
        f"depth.1000ms.{symbol}",
    ]

    async def run() -> None:
        socket = await Socket.open(ex.url)
        await socket.subscribe(*streams)
        assert await socket.barrier() == []
        ask = await asyncio.to_thread(limit, ex.alice, symbol, "Ask", "100.00", "2")
        bid = await asyncio.to_thread(limit, ex.bob, symbol, "Bid", "100", "0.5")
        frames = await socket.drain(2.5)
        await socket.close()
        by_stream: dict[str, list[dict[str, object]]] = {}
        for frame in frames:
            assert set(frame) == {"stream", "data"}
            by_stream.setdefault(frame["stream"], []).append(frame["data"])

        depth = by_stream[f"depth.{symbol}"]
        assert [(d["U"], d["u"]) for d in depth] == [(1, 1), (2, 2)]
        assert depth[0]["a"] == [["100.00", "2.00"]] and depth[0]["b"] == []
        assert depth[1]["a"] == [["100.00", "1.50"]] and depth[1]["b"] == []
        for data in depth:
            assert data["e"] == "depth" and data["s"] == symbol
            _recent_us(data["E"])
            _recent_us(data["T"])
            assert data["E"] >= data["T"]  # type: ignore[operator]

        (trade,) = by_stream[f"trade.{symbol}"]
        assert trade["e"] == "trade" and trade["s"] == symbol
        assert (trade["p"], trade["q"], trade["m"]) == ("100.00", "0.50", False)
        assert (trade["b"], trade["a"]) == (bid["id"], ask["id"])
        assert isinstance(trade["t"], int)
        _recent_us(trade["E"])
        _recent_us(trade["T"])

        book = by_stream[f"bookTicker.{symbol}"]
        assert [(b["a"], b["A"], b["b"], b["B"], b["u"]) for b in book] == [
            ("100.00", "2.00", None, None, 1),
            ("100.00", "1.50", None, None, 2),
        ]

        ticker = by_stream[f"ticker.{symbol}"][-1]
        assert ticker["e"] == "ticker" and ticker["s"] == symbol
        assert (ticker["o"], ticker["c"], ticker["h"], ticker["l"]) == ("100.00",) * 4
        assert (ticker["v"], ticker["V"], ticker["n"]) == ("0.50", "50.000000", 1)

        for interval in ("1m", "1h"):
            klines = by_stream[f"kline.{interval}.{symbol}"]
            # The candle opens with the trade; only a last frame may close it, if its period ended meanwhile.
            assert [kline["X"] for kline in klines[:-1]] == [False] * (len(klines) - 1)
            assert klines[0]["X"] is False
            for kline in klines:
                assert kline["e"] == "kline" and kline["s"] == symbol
                assert (kline["o"], kline["c"], kline["h"], kline["l"], kline["v"], kline["n"]) == (
                    "100.00",
                    "100.00",
                    "100.00",
                    "100.00",
                    "0.50",
                    1,
                )
                start, end = str(kline["t"]), str(kline["T"])
                assert len(start) == len(end) == 19 and start[10] == "T" and start < end

        for window in ("200ms", "1000ms"):
            merged = by_stream[f"depth.{window}.{symbol}"]
            assert merged[0]["U"] == 1 and merged[-1]["u"] == 2
            for before, after in itertools.pairwise(merged):
                assert after["U"] == before["u"] + 1  # type: ignore[operator]
            assert merged[-1]["a"] == [["100.00", "1.50"]]

    asyncio.run(run())


def test_errors_as_backpack_sends_them(streams_exchange: Exchange) -> None:
    async def run() -> None:
        socket = await Socket.open(streams_exchange.url)
        await socket.connection.send("not json")
        assert await socket.recv() == {"id": None, "error": {"code": 4002, "message": "Parse error"}}
        await socket.send({"method": "FOO", "params": ["depth.SOL_USDC"]})
        assert (await socket.recv())["error"]["code"] == 4002
        await socket.subscribe("nope.SOL_USDC")
        assert await socket.recv() == {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}
        await socket.subscribe("depth.100ms.SOL_USDC")
        assert await socket.recv() == {"id": None, "error": {"code": 4008, "message": "Invalid depth window"}}
        await socket.subscribe("depth.NOPE_USDC", "kline.1m.NOPE_USDC")
        assert await socket.drain(0.5) == []
        await socket.subscribe("account.orderUpdate")
        assert (await socket.recv())["error"]["code"] == 4003
        await socket.connection.send(b"\x00binary")
        await socket.connection.wait_closed()
        assert socket.connection.close_code == 1003
        big = await Socket.open(streams_exchange.url)
        await big.connection.send("x" * 20_000)
        await big.connection.wait_closed()
        assert big.connection.close_code == 1009

    asyncio.run(run())
