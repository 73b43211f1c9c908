"""Websocket payload encoders: Backpack's one-letter stream frames."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from exchange import marketdata
from exchange.engine.events import OrderAccepted, OrderCancelled, OrderExpired, OrderFilled, TradeExecuted
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderStatus, Side
from exchange.protocol.decoding import Json
from exchange.protocol.fields import dec
from exchange.protocol.replies import Levels, depth_levels

# == websocket streams ================================================================
#
# Payloads of Backpack's streams: one-letter keys, `E` (when the frame was made) and
# `T` (the engine's time of the event) in integer microseconds, prices and quantities
# as decimal strings, `U`/`u`/`t`/`n` as numbers. Each function returns the `data`
# object; `stream_frame` wraps it in the envelope, once per stream and not per client.


def kline_stream_time(seconds: int) -> str:
    """A kline boundary as Backpack's stream writes it: naive ISO without fraction."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def stream_frame(stream: str, data: Json) -> str:
    """The text of one data frame: `{"data": ..., "stream": ...}`."""
    return orjson.dumps({"data": data, "stream": stream}).decode()


def stream_error_frame(code: int, message: str) -> str:
    """The text of an error frame, as Backpack sends them (`id` always null)."""
    return orjson.dumps({"id": None, "error": {"code": code, "message": message}}).decode()


def depth_update_fields(
    market: Market, *, first: int, last: int, bids: Levels, asks: Levels, engine_ts: int, now: int
) -> Json:
    """`depth`: absolute totals of the levels touched in updates `first..last`; "0" removes a level."""
    return {
        "e": "depth",
        "E": now,
        "s": market.symbol,
        "a": depth_levels(market, asks),
        "b": depth_levels(market, bids),
        "U": first,
        "u": last,
        "T": engine_ts,
    }


def book_ticker_fields(
    market: Market,
    *,
    bid: tuple[int, int] | None,
    ask: tuple[int, int] | None,
    sequence: int,
    engine_ts: int,
    now: int,
) -> Json:
    """`bookTicker`: best bid and ask with their quantities (null for an empty side), `u` the depth sequence."""
    return {
        "e": "bookTicker",
        "E": now,
        "s": market.symbol,
        "a": None if ask is None else dec(market.price(ask[0])),
        "A": None if ask is None else dec(market.quantity(ask[1])),
        "b": None if bid is None else dec(market.price(bid[0])),
        "B": None if bid is None else dec(market.quantity(bid[1])),
        "u": sequence,
        "T": engine_ts,
    }


def trade_update_fields(market: Market, trade: TradeExecuted, *, now: int) -> Json:
    """`trade`: `b`/`a` the buyer's and seller's order ids, `m` true when the buyer was the maker."""
    taker_bought = trade.taker_side is Side.BID
    buyer, seller = (
        (trade.taker_order_id, trade.maker_order_id) if taker_bought else (trade.maker_order_id, trade.taker_order_id)
    )
    return {
        "e": "trade",
        "E": now,
        "s": market.symbol,
        "p": dec(market.price(trade.price)),
        "q": dec(market.quantity(trade.quantity)),
        "b": str(buyer),
        "a": str(seller),
        "t": trade.id,
        "m": trade.is_buyer_maker,
        "T": trade.ts,
    }


def ticker_update_fields(ticker: marketdata.Ticker, *, now: int) -> Json:
    """`ticker`: 24h first/last/high/low, base and quote volume, trade count."""
    return {
        "e": "ticker",
        "E": now,
        "s": ticker.symbol,
        "o": dec(ticker.first_price),
        "c": dec(ticker.last_price),
        "h": dec(ticker.high),
        "l": dec(ticker.low),
        "v": dec(ticker.volume),
        "V": dec(ticker.quote_volume),
        "n": ticker.trades,
    }


def kline_update_fields(symbol: str, kline: marketdata.Kline, *, closed: bool, now: int) -> Json:
    """`kline`: `t`/`T` the candle's start and end as naive ISO strings, `X` true once it is closed."""
    return {
        "e": "kline",
        "E": now,
        "s": symbol,
        "t": kline_stream_time(kline.start // 1_000_000),
        "T": kline_stream_time(kline.end // 1_000_000),
        "o": dec(kline.open),
        "c": dec(kline.close),
        "h": dec(kline.high),
        "l": dec(kline.low),
        "v": dec(kline.volume),
        "n": kline.trades,
        "X": closed,
    }


OrderUpdate = OrderAccepted | OrderFilled | OrderCancelled | OrderExpired


def order_update_fields(event: OrderUpdate, market: Market, *, now: int) -> Json:
    """`account.orderUpdate`: orderAccepted, orderFill, orderCancelled or orderExpired with Backpack's letters."""
    spec = event.order
    fields: Json = {"e": "", "E": now, "s": spec.symbol}
    if spec.client_id is not None:
        fields["c"] = spec.client_id
    fields.update(
        {
            "S": spec.side.value,
            "o": spec.order_type.value.upper(),
            "f": spec.time_in_force.value,
            "V": spec.self_trade_prevention.value,
            "y": spec.post_only,
            "r": False,
            "O": "USER",
            "i": str(spec.id),
        }
    )
    if spec.quantity is not None:
        fields["q"] = dec(market.quantity(spec.quantity))
    if spec.quote_quantity is not None:
        fields["Q"] = dec(market.quote.amount(spec.quote_quantity))
    if spec.price is not None:
        fields["p"] = dec(market.price(spec.price))
    if isinstance(event, OrderAccepted):
        fields.update(e="orderAccepted", X=OrderStatus.NEW.value, z="0", Z="0")
    else:
        fields["z"] = dec(market.quantity(event.executed))
        fields["Z"] = dec(market.quote.amount(event.executed_quote))
    if isinstance(event, OrderFilled):
        fee_asset = market.base if event.fee_asset == market.base.symbol else market.quote
        fields.update(
            e="orderFill",
            X=event.status.value,
            t=event.trade_id,
            l=dec(market.quantity(event.quantity)),
            L=dec(market.price(event.price)),
            m=event.is_maker,
            n=dec(fee_asset.amount(event.fee)),
            N=fee_asset.symbol,
        )
    elif isinstance(event, OrderCancelled):
        fields.update(e="orderCancelled", X=OrderStatus.CANCELLED.value)
    elif isinstance(event, OrderExpired):
        fields.update(e="orderExpired", X=OrderStatus.EXPIRED.value, R=event.reason.value)
    fields["T"] = event.ts
    return fields


def balance_update_fields(asset: Asset, *, available: int, locked: int, engine_ts: int, now: int) -> Json:
    """`account.balanceUpdate`: the asset's absolute available (`A`), locked (`L`) and staked (`S`) amounts."""
    return {
        "e": "balanceUpdate",
        "E": now,
        "a": asset.symbol,
        "A": dec(asset.amount(available)),
        "L": dec(asset.amount(locked)),
        "S": "0",
        "T": engine_ts,
    }
