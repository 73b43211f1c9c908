"""The client side: each builder and reader the tested inverse of a parser or an encoder."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, Side, TimeInForce
from exchange.protocol import capital
from exchange.protocol.decoding import Json
from exchange.protocol.ours import AccountRequest, KeyRequest, MarketRequest, TransferRequest
from exchange.protocol.replies import dec

# == the client side ==================================================================
#
# A client of this API (the bots' `RestClient`) builds its requests and reads the replies
# with these inverses of the parsers and encoders above. tests/api/test_wire_client.py
# round-trips each pair, so a client and the server cannot drift apart.


def order_params(
    market: Market,
    *,
    side: Side,
    order_type: OrderType,
    price: int | None = None,
    quantity: int | None = None,
    quote_quantity: int | None = None,
    time_in_force: TimeInForce = TimeInForce.GTC,
    post_only: bool = False,
) -> Json:
    """An `OrderExecutePayload` from engine units: the inverse of `parse_order`."""
    params: Json = {
        "symbol": market.symbol,
        "side": side.value,
        "orderType": order_type.value,
        "timeInForce": time_in_force.value,
    }
    if price is not None:
        params["price"] = dec(market.price(price))
    if quantity is not None:
        params["quantity"] = dec(market.quantity(quantity))
    if quote_quantity is not None:
        params["quoteQuantity"] = dec(market.quote.amount(quote_quantity))
    if post_only:
        params["postOnly"] = True
    return params


def order_cancel_params(symbol: str, order_id: int) -> Json:
    """An `OrderCancelPayload` by order id: the inverse of `parse_order_ref`."""
    return {"symbol": symbol, "orderId": str(order_id)}


def assets_of(assets: Sequence[Json]) -> dict[str, Asset]:
    """The assets of `/api/v1/assets`, by symbol: the inverse of `asset_fields`."""
    return {
        item["symbol"]: Asset(
            symbol=item["symbol"],
            decimals=int(item["tokens"][0]["nativeDecimals"]),
            blockchains=tuple(token["blockchain"] for token in item["tokens"]),
        )
        for item in assets
    }


def market_of(fields: Json, assets: Mapping[str, Asset]) -> Market:
    """A market from `/api/v1/markets` and its assets (`assets_of`): the inverse of `market_fields`."""
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
    )


def _units(text: str, convert: Callable[[Decimal], int]) -> int:
    """A wire decimal in engine units, zero included (the converters take positives only)."""
    value = Decimal(text)
    return convert(value) if value else 0


def depth_of(market: Market, fields: Json) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(bids, asks) as (ticks, steps), each best first: the inverse of `depth_fields`."""

    def levels(rows: Sequence[Sequence[str]]) -> list[tuple[int, int]]:
        return [(market.ticks(Decimal(price)), _units(quantity, market.steps)) for price, quantity in rows]

    return levels(fields["bids"])[::-1], levels(fields["asks"])


def resting_of(fields: Json, market: Market) -> tuple[int, Side, int, int]:
    """(order id, side, price in ticks, remaining steps) of a live limit order's `order_fields`."""
    remaining = _units(fields["quantity"], market.steps) - _units(fields["executedQuantity"], market.steps)
    return int(fields["id"]), Side(fields["side"]), market.ticks(Decimal(fields["price"])), remaining


def available_of(fields: Json, assets: Mapping[str, Asset]) -> dict[str, int]:
    """Available atoms per known asset from `/api/v1/capital`: the inverse of `balance_fields`."""
    return {
        symbol: _units(balance["available"], assets[symbol].atoms)
        for symbol, balance in fields.items()
        if symbol in assets
    }


def error_of(fields: Json) -> tuple[str, str] | None:
    """(code, message) if a reply item is an `ApiErrorResponse`: the inverse of `error_fields`."""
    if "code" not in fields:
        return None
    return str(fields["code"]), str(fields.get("message", ""))


def account_params(request: AccountRequest) -> Json:
    """An `accountCreate` body: the inverse of `parse_account`."""
    params: Json = {"publicKey": request.public_key}
    if request.scopes is not None:
        params["scopes"] = ",".join(sorted(s.value for s in request.scopes))
    if request.label is not None:
        params["label"] = request.label
    return params


def key_params(request: KeyRequest) -> Json:
    """A `keyCreate` body: the inverse of `parse_key`."""
    params: Json = {"publicKey": request.public_key}
    if request.scopes is not None:
        params["scopes"] = ",".join(sorted(s.value for s in request.scopes))
    return params


def key_ref_params(public_key: str) -> Json:
    """A `keyRevoke` body: the inverse of `parse_public_key`."""
    return {"publicKey": public_key}


def transfer_params(request: TransferRequest) -> Json:
    """A `deposit` or `withdraw` body: the inverse of `parse_transfer`."""
    params: Json = {"symbol": request.symbol, "quantity": dec(request.quantity)}
    if request.transfer_id is not None:
        params["transferId"] = request.transfer_id
    if request.account_id is not None:
        params["accountId"] = str(request.account_id)
    if request.address is not None:
        params["address"] = request.address
    if request.transaction_hash is not None:
        params["transactionHash"] = request.transaction_hash
    return params


def withdrawal_params(request: capital.WithdrawalRequest) -> Json:
    """A `withdraw` body on Backpack's route: the inverse of `capital.parse_withdrawal`."""
    params: Json = {
        "symbol": request.symbol,
        "quantity": dec(request.quantity),
        "address": request.address,
        "blockchain": request.blockchain,
    }
    if request.client_id is not None:
        params["clientId"] = request.client_id
    return params


def settlement_params(settlement: capital.Settlement) -> Json:
    """A `withdrawalConfirm` / `withdrawalFail` body: the inverse of `capital.parse_settlement`."""
    params: Json = {"id": str(settlement.id)}
    if settlement.transaction_hash is not None:
        params["transactionHash"] = settlement.transaction_hash
    return params


def asset_params(asset: Asset) -> Json:
    """An `assetCreate` body: the inverse of `parse_asset`."""
    return {"symbol": asset.symbol, "decimals": str(asset.decimals), "blockchains": ",".join(asset.blockchains)}


def market_params(request: MarketRequest) -> Json:
    """A `marketCreate` body: the inverse of `parse_market`."""
    return {
        "symbol": request.symbol,
        "baseSymbol": request.base_symbol,
        "quoteSymbol": request.quote_symbol,
        "tickSize": dec(request.tick_size),
        "stepSize": dec(request.step_size),
        "minQuantity": dec(request.min_quantity),
        "makerFeeBps": str(request.maker_fee_bps),
        "takerFeeBps": str(request.taker_fee_bps),
    }
