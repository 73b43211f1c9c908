"""Market-data records stated by value: a 24h ticker and a candle from decimal strings.

Tests that compare against, or encode, a ticker or a kline state it in one call, with
the wire's decimal text (each string becomes a `Decimal` exactly as written).
"""

from __future__ import annotations

from decimal import Decimal

from exchange.marketdata import Kline, Ticker


def make_ticker(symbol: str, *, ohlc: tuple[str, str, str, str], volume: str, quote_volume: str, trades: int) -> Ticker:
    """The 24h ticker of `symbol` whose first, high, low and last prices are `ohlc`, with its volumes and trades."""
    first, high, low, last = map(Decimal, ohlc)
    return Ticker(symbol, first, last, high, low, Decimal(volume), Decimal(quote_volume), trades)


def make_kline(
    start: int, end: int, *, ohlc: tuple[str, str, str, str], volume: str, quote_volume: str, trades: int
) -> Kline:
    """The candle `[start, end)` with open, high, low and close `ohlc`, its volumes and trade count."""
    open_, high, low, close = map(Decimal, ohlc)
    return Kline(start, end, open_, high, low, close, Decimal(volume), Decimal(quote_volume), trades)
