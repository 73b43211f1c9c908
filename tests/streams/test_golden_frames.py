"""Golden frames: the exact bytes the stream encoders produce for representative events.

Written before the encoders moved into `exchange.protocol`, so a refactoring that changes
one byte of any websocket frame (key order, number form, null handling) fails here.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.demo import SOL_USDC
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Deposit
from exchange.engine.engine import Engine
from exchange.engine.events import Event, OrderAccepted, OrderCancelled, OrderFilled, TradeExecuted
from exchange.engine.orders import Side
from exchange.protocol import streams
from exchange.protocol.codes import StreamCode
from tests.engine.builders import priced
from tests.support.marketdata import make_kline, make_ticker

NOW = 1_700_000_000_123_456


def _events() -> list[Event]:
    engine = Engine()
    market = SOL_USDC
    events: list[Event] = []
    for command in (
        AddAsset(asset=market.base, ts=1),
        AddAsset(asset=market.quote, ts=1),
        AddMarket(market=market, ts=1),
        Deposit(account_id=1, asset=market.base.symbol, amount=market.base.atoms(Decimal(10)), transfer_id="a", ts=2),
        Deposit(
            account_id=2, asset=market.quote.symbol, amount=market.quote.atoms(Decimal(9999)), transfer_id="b", ts=2
        ),
        priced(market, 1, Side.ASK, "150.25", "2.5", 3, client_id=7),
        priced(market, 2, Side.BID, "151", "1", 4),
        CancelOrder(account_id=1, symbol=market.symbol, order_id=1, ts=5),
    ):
        events += engine.handle(command)
    return events


def frames() -> list[str]:
    """One frame of each stream kind (two of the order updates), made by today's encoders."""
    market = SOL_USDC
    events = _events()
    out = [
        streams.stream_frame(
            "depth.SOL_USDC",
            streams.depth_update_fields(
                market, first=3, last=5, bids=[(15100, 0)], asks=[(15025, 150)], engine_ts=4, now=NOW
            ),
        ),
        streams.stream_frame(
            "bookTicker.SOL_USDC",
            streams.book_ticker_fields(market, bid=None, ask=(15025, 150), sequence=5, engine_ts=4, now=NOW),
        ),
        streams.stream_error_frame(StreamCode.INVALID_STREAM, "unknown stream nope"),
    ]
    for event in events:
        if isinstance(event, TradeExecuted):
            out.append(streams.stream_frame("trade.SOL_USDC", streams.trade_update_fields(market, event, now=NOW)))
        if isinstance(event, OrderAccepted | OrderFilled | OrderCancelled):
            out.append(streams.stream_frame("account.orderUpdate", streams.order_update_fields(event, market, now=NOW)))
    ticker = make_ticker(
        "SOL_USDC", ohlc=("150.25", "151", "150.25", "151.00"), volume="1.50", quote_volume="226.125", trades=2
    )
    out.append(streams.stream_frame("ticker.SOL_USDC", streams.ticker_update_fields(ticker, now=NOW)))
    kline = make_kline(
        1_700_000_040_000_000,
        1_700_000_100_000_000,
        ohlc=("150.25", "151", "150.25", "151.00"),
        volume="1.5",
        quote_volume="226.125",
        trades=2,
    )
    out.append(
        streams.stream_frame("kline.1m.SOL_USDC", streams.kline_update_fields("SOL_USDC", kline, closed=True, now=NOW))
    )
    balance = streams.balance_update_fields(market.quote, available=12_345_678, locked=0, engine_ts=4, now=NOW)
    out.append(streams.stream_frame("account.balanceUpdate", balance))
    return out


GOLDEN: list[str] = [
    '{"data":{"e":"depth","E":1700000000123456,"s":"SOL_USDC","a":[["150.25","1.50"]],"b":[["151.00","0.00"]],"U":3,"u":5,"T":4},"stream":"depth.SOL_USDC"}',
    '{"data":{"e":"bookTicker","E":1700000000123456,"s":"SOL_USDC","a":"150.25","A":"1.50","b":null,"B":null,"u":5,"T":4},"stream":"bookTicker.SOL_USDC"}',
    '{"id":null,"error":{"code":4006,"message":"unknown stream nope"}}',
    '{"data":{"e":"orderAccepted","E":1700000000123456,"s":"SOL_USDC","c":7,"S":"Ask","o":"LIMIT","f":"GTC","V":"RejectTaker","y":false,"r":false,"O":"USER","i":"1","q":"2.50","p":"150.25","X":"New","z":"0","Z":"0","T":3},"stream":"account.orderUpdate"}',
    '{"data":{"e":"orderAccepted","E":1700000000123456,"s":"SOL_USDC","S":"Bid","o":"LIMIT","f":"GTC","V":"RejectTaker","y":false,"r":false,"O":"USER","i":"2","q":"1.00","p":"151.00","X":"New","z":"0","Z":"0","T":4},"stream":"account.orderUpdate"}',
    '{"data":{"e":"trade","E":1700000000123456,"s":"SOL_USDC","p":"150.25","q":"1.00","b":"2","a":"1","t":1,"m":false,"T":4},"stream":"trade.SOL_USDC"}',
    '{"data":{"e":"orderFill","E":1700000000123456,"s":"SOL_USDC","c":7,"S":"Ask","o":"LIMIT","f":"GTC","V":"RejectTaker","y":false,"r":false,"O":"USER","i":"1","q":"2.50","p":"150.25","z":"1.00","Z":"150.250000","X":"PartiallyFilled","t":1,"l":"1.00","L":"150.25","m":true,"n":"0.030050","N":"USDC","T":4},"stream":"account.orderUpdate"}',
    '{"data":{"e":"orderFill","E":1700000000123456,"s":"SOL_USDC","S":"Bid","o":"LIMIT","f":"GTC","V":"RejectTaker","y":false,"r":false,"O":"USER","i":"2","q":"1.00","p":"151.00","z":"1.00","Z":"150.250000","X":"Filled","t":1,"l":"1.00","L":"150.25","m":false,"n":"0.000500000","N":"SOL","T":4},"stream":"account.orderUpdate"}',
    '{"data":{"e":"orderCancelled","E":1700000000123456,"s":"SOL_USDC","c":7,"S":"Ask","o":"LIMIT","f":"GTC","V":"RejectTaker","y":false,"r":false,"O":"USER","i":"1","q":"2.50","p":"150.25","z":"1.00","Z":"150.250000","X":"Cancelled","T":5},"stream":"account.orderUpdate"}',
    '{"data":{"e":"ticker","E":1700000000123456,"s":"SOL_USDC","o":"150.25","c":"151.00","h":"151","l":"150.25","v":"1.50","V":"226.125","n":2},"stream":"ticker.SOL_USDC"}',
    '{"data":{"e":"kline","E":1700000000123456,"s":"SOL_USDC","t":"2023-11-14T22:14:00","T":"2023-11-14T22:15:00","o":"150.25","c":"151.00","h":"151","l":"150.25","v":"1.5","n":2,"X":true},"stream":"kline.1m.SOL_USDC"}',
    '{"data":{"e":"balanceUpdate","E":1700000000123456,"a":"USDC","A":"12.345678","L":"0.000000","S":"0","T":4},"stream":"account.balanceUpdate"}',
]


def test_stream_frames_are_byte_identical() -> None:
    assert frames() == GOLDEN
