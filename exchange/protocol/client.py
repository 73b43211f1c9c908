"""The client side: the readers of replies, each the tested inverse of an encoder.

A client builds a request with its message's `params` (`OrderRequest(...).params()`, the
inverse of `read`); `order_params` adds the one conversion a bot needs first, from engine
units to decimals. tests/api/test_wire_client.py round-trips each pair, so a client and
the server cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, Side, TimeInForce
from exchange.protocol.decoding import Json, Scalar
from exchange.protocol.requests import OrderRequest


class EngineOrder(Protocol):
    """An order in engine units (ticks, steps, atoms), as the engine's `PlaceOrder` and a bot's order carry it."""

    @property
    def side(self) -> Side: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def price(self) -> int | None: ...
    @property
    def quantity(self) -> int | None: ...
    @property
    def quote_quantity(self) -> int | None: ...
    @property
    def time_in_force(self) -> TimeInForce: ...
    @property
    def post_only(self) -> bool: ...


def order_params(market: Market, order: EngineOrder) -> dict[str, Scalar]:
    """An `OrderExecutePayload` of `order` in `market`: the inverse of `parse_order`."""
    request = OrderRequest(
        symbol=market.symbol,
        side=order.side,
        order_type=order.order_type,
        price=None if order.price is None else market.price(order.price),
        quantity=None if order.quantity is None else market.quantity(order.quantity),
        quote_quantity=None if order.quote_quantity is None else market.quote.amount(order.quote_quantity),
        time_in_force=order.time_in_force,
        post_only=order.post_only,
    )
    return request.params()


def assets_of(assets: Sequence[Json]) -> dict[str, Asset]:
    """The assets of `/api/v1/assets`, by symbol: the inverse of `replies.ASSET`."""
    return {
        item["symbol"]: Asset(
            symbol=item["symbol"],
            decimals=int(item["tokens"][0]["nativeDecimals"]),
            blockchains=tuple(token["blockchain"] for token in item["tokens"]),
        )
        for item in assets
    }


def market_of(fields: Json, assets: Mapping[str, Asset]) -> Market:
    """A market from `/api/v1/markets` and its assets (`assets_of`): the inverse of `replies.MARKET`."""
    filters = fields["filters"]
    return Market(
        symbol=fields["symbol"],
        base=assets[fields["baseSymbol"]],
        quote=assets[fields["quoteSymbol"]],
        tick_size=Decimal(filters["price"]["tickSize"]),
        step_size=Decimal(filters["quantity"]["stepSize"]),
        min_quantity=Decimal(filters["quantity"]["minQuantity"]),
        maker_fee_bps=int(fields["makerFeeBps"]),
        taker_fee_bps=int(fields["takerFeeBps"]),
        band_min=_optional_decimal(filters["price"].get("minMultiplier")),
        band_max=_optional_decimal(filters["price"].get("maxMultiplier")),
    )


def _optional_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _units(text: str, convert: Callable[[Decimal], int]) -> int:
    """A wire decimal in engine units, zero included (the converters take positives only)."""
    value = Decimal(text)
    return convert(value) if value else 0


def depth_of(market: Market, fields: Json) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) as (ticks, steps), each best first: the inverse of `replies.DEPTH`."""

    def levels(rows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
        return [(market.ticks(Decimal(price)), _units(quantity, market.steps)) for price, quantity in rows]

    return levels(fields["bids"])[::-1], levels(fields["asks"])


def resting_of(fields: Json, market: Market) -> tuple[int, Side, int, int]:
    """(order id, side, price in ticks, remaining steps) of a live limit order (`replies.ORDER`)."""
    remaining = _units(fields["quantity"], market.steps) - _units(fields["executedQuantity"], market.steps)
    return int(fields["id"]), Side(fields["side"]), market.ticks(Decimal(fields["price"])), remaining


def available_of(fields: Json, assets: Mapping[str, Asset]) -> dict[str, int]:
    """Available atoms per known asset from `/api/v1/capital`: the inverse of `replies.balance_fields`."""
    return {
        symbol: _units(balance["available"], assets[symbol].atoms)
        for symbol, balance in fields.items()
        if symbol in assets
    }


def error_of(fields: Json) -> tuple[str, str] | None:
    """(code, message) if a reply item is an `ApiErrorResponse`: the inverse of `replies.ERROR`."""
    if "code" not in fields:
        return None
    return str(fields["code"]), str(fields.get("message", ""))
