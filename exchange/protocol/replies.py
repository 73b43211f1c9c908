"""REST reply encoders: Backpack's JSON replies from engine and database values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from exchange import marketdata
from exchange.engine.events import Event, OrderAccepted, OrderCancelled, OrderExpired, OrderFilled
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderStatus
from exchange.engine.queries import OrderView
from exchange.persistence import queries
from exchange.protocol.decoding import Json


def status_fields(ready: bool) -> Json:
    """`/status`: `Ok`, or `Maintenance` while the engine is halted."""
    return {"status": "Ok" if ready else "Maintenance", "message": None if ready else "engine halted"}


# -- numbers and times on the wire ---------------------------------------------------


def dec(value: Decimal) -> str:
    """A decimal in plain notation, exactly as stored (never exponent notation)."""
    return format(value, "f")


def naive_iso(micros: int) -> str:
    """Naive UTC ISO-8601 with milliseconds, as Backpack's history endpoints write times."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def kline_time(seconds: int) -> str:
    """A kline boundary as Backpack's REST writes it: "YYYY-MM-DD HH:MM:SS" (UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def kline_stream_time(seconds: int) -> str:
    """A kline boundary as Backpack's stream writes it: naive ISO without fraction."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# -- catalog ------------------------------------------------------------------------


def asset_fields(asset: Asset) -> Json:
    """`MarketAsset`: one asset with a token per blockchain it is listed on."""
    return {
        "symbol": asset.symbol,
        "displayName": asset.symbol,
        "coingeckoId": None,
        "tokens": [
            {
                "displayName": asset.symbol,
                "blockchain": blockchain,
                "contractAddress": None,
                "depositEnabled": True,
                "minimumDeposit": "0",
                "withdrawEnabled": True,
                "minimumWithdrawal": "0",
                "maximumWithdrawal": None,
                "withdrawalFee": "0",
                "nativeDecimals": asset.decimals,
            }
            for blockchain in asset.blockchains
        ],
    }


def _book_state(halted: bool) -> str:
    return "CancelOnly" if halted else "Open"


def market_fields(market: Market, *, halted: bool, created_at: int) -> Json:
    """`Market`: a spot market with its price and quantity filters."""
    return {
        "symbol": market.symbol,
        "baseSymbol": market.base.symbol,
        "quoteSymbol": market.quote.symbol,
        "marketType": "SPOT",
        "filters": {
            "price": {"minPrice": dec(market.tick_size), "maxPrice": None, "tickSize": dec(market.tick_size)},
            "quantity": {
                "minQuantity": dec(market.min_quantity),
                "maxQuantity": None,
                "stepSize": dec(market.step_size),
            },
        },
        "orderBookState": _book_state(halted),
        "createdAt": naive_iso(created_at),
        "visible": True,
        "makerFeeBps": market.maker_fee_bps,
        "takerFeeBps": market.taker_fee_bps,
    }


# -- market data --------------------------------------------------------------------

Levels = Sequence[tuple[int, int]]


def depth_levels(market: Market, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    """`[[price, quantity], ...]` from (ticks, steps) pairs, in the order given."""
    return [[dec(market.price(p)), dec(market.quantity(q))] for p, q in levels]


def depth_fields(market: Market, *, sequence: int, bids: Levels, asks: Levels, ts: int) -> Json:
    """`Depth`: both sides ascending by price (best bid last), `lastUpdateId` a string, µs timestamp."""
    return {
        "asks": depth_levels(market, asks),
        "bids": depth_levels(market, reversed(bids)),
        "lastUpdateId": str(sequence),
        "timestamp": ts,
    }


def ticker_fields(symbol: str, ticker: marketdata.Ticker | None) -> Json:
    """`Ticker`: 24h rolling statistics (zeros for a market without trades); `priceChangePercent` is a fraction."""
    if ticker is None:
        zero = {"firstPrice": "0", "lastPrice": "0", "priceChange": "0", "priceChangePercent": "0", "high": "0"}
        return {"symbol": symbol, **zero, "low": "0", "volume": "0", "quoteVolume": "0", "trades": "0"}
    return {
        "symbol": symbol,
        "firstPrice": dec(ticker.first_price),
        "lastPrice": dec(ticker.last_price),
        "priceChange": dec(ticker.price_change),
        "priceChangePercent": dec(ticker.price_change_fraction),
        "high": dec(ticker.high),
        "low": dec(ticker.low),
        "volume": dec(ticker.volume),
        "quoteVolume": dec(ticker.quote_volume),
        "trades": str(ticker.trades),
    }


def kline_fields(kline: marketdata.Kline) -> Json:
    """`Kline` of REST `/api/v1/klines`: every value a string, boundaries "YYYY-MM-DD HH:MM:SS"."""
    return {
        "start": kline_time(kline.start // 1_000_000),
        "end": kline_time(kline.end // 1_000_000),
        "open": dec(kline.open),
        "high": dec(kline.high),
        "low": dec(kline.low),
        "close": dec(kline.close),
        "volume": dec(kline.volume),
        "quoteVolume": dec(kline.quote_volume),
        "trades": str(kline.trades),
    }


def trade_fields(trade: queries.Trade) -> Json:
    """`Trade` of `/api/v1/trades`: numeric id, ms timestamp."""
    return {
        "id": trade.id,
        "price": dec(trade.price),
        "quantity": dec(trade.quantity),
        "quoteQuantity": dec(trade.quote_quantity),
        "timestamp": trade.ts // 1000,
        "isBuyerMaker": trade.is_buyer_maker,
    }


# -- orders, fills, balances ---------------------------------------------------------


def stored_order(row: queries.Order, market: Market) -> OrderView:
    """Back to engine units from a stored order (exact: it was written from them)."""
    spec = row.spec(market)
    executed, executed_quote = row.executed(market)
    return OrderView(spec=spec, status=OrderStatus(row.status), executed=executed, executed_quote=executed_quote)


def order_after(events: Sequence[Event], order_id: int) -> OrderView | None:
    """The state of order `order_id` after a command's events (None if they never mention it)."""
    view: OrderView | None = None
    for event in events:
        if isinstance(event, OrderAccepted) and event.order.id == order_id:
            view = OrderView(spec=event.order, status=OrderStatus.NEW, executed=0, executed_quote=0)
        elif isinstance(event, OrderFilled) and event.order.id == order_id:
            view = OrderView(
                spec=event.order, status=event.status, executed=event.executed, executed_quote=event.executed_quote
            )
        elif isinstance(event, OrderCancelled | OrderExpired) and event.order.id == order_id:
            status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.EXPIRED
            view = OrderView(
                spec=event.order, status=status, executed=event.executed, executed_quote=event.executed_quote
            )
    return view


def closed_orders(events: Sequence[Event]) -> list[OrderView]:
    """The orders a cancel command closed, in event order."""
    return [
        OrderView(
            spec=e.order,
            status=OrderStatus.CANCELLED if isinstance(e, OrderCancelled) else OrderStatus.EXPIRED,
            executed=e.executed,
            executed_quote=e.executed_quote,
        )
        for e in events
        if isinstance(e, OrderCancelled | OrderExpired)
    ]


NULL_ORDER_FIELDS = (
    "reduceOnly",
    "relatedOrderId",
    "stopLossLimitPrice",
    "stopLossTriggerBy",
    "stopLossTriggerPrice",
    "strategyId",
    "takeProfitLimitPrice",
    "takeProfitTriggerBy",
    "takeProfitTriggerPrice",
    "triggerBy",
    "triggerPrice",
    "triggerQuantity",
)


def order_fields(view: OrderView, market: Market, *, history: bool = False) -> Json:
    """`OrderType` (live: `createdAt` ms) or, with `history`, `Order` (`createdAt` naive ISO)."""
    spec = view.spec
    fields: Json = {
        "id": str(spec.id),
        "clientId": spec.client_id,
        "createdAt": naive_iso(spec.created_at) if history else spec.created_at // 1000,
        "executedQuantity": dec(market.quantity(view.executed)),
        "executedQuoteQuantity": dec(market.quote.amount(view.executed_quote)),
        "orderType": spec.order_type.value,
        "postOnly": spec.post_only,
        "price": None if spec.price is None else dec(market.price(spec.price)),
        "quantity": None if spec.quantity is None else dec(market.quantity(spec.quantity)),
        "quoteQuantity": None if spec.quote_quantity is None else dec(market.quote.amount(spec.quote_quantity)),
        "selfTradePrevention": spec.self_trade_prevention.value,
        "side": spec.side.value,
        "status": view.status.value,
        "symbol": spec.symbol,
        "timeInForce": spec.time_in_force.value,
    }
    for name in NULL_ORDER_FIELDS:
        fields[name] = None
    if history:
        fields["expiryReason"] = None
        fields["systemOrderType"] = None
    else:
        fields["triggeredAt"] = None
    return fields


def fill_fields(fill: queries.Fill) -> Json:
    """`OrderFill`: naive ISO timestamp, string order id, numeric trade id."""
    return {
        "clientId": None,
        "fee": dec(fill.fee),
        "feeSymbol": fill.fee_asset,
        "isMaker": fill.is_maker,
        "orderId": str(fill.order_id),
        "price": dec(fill.price),
        "quantity": dec(fill.quantity),
        "side": fill.side,
        "symbol": fill.symbol,
        "systemOrderType": None,
        "timestamp": naive_iso(fill.ts),
        "tradeId": fill.trade_id,
    }


DEPOSIT_SOURCE = "administrator"
"""Backpack's deposit `source` for a credit that did not arrive on a chain: the faucet and the operator's on-ramp
without a reference. A deposit by reference names its chain, lower-case, as Backpack does ("solana")."""


def deposit_fields(transfer: queries.Transfer) -> Json:
    """`Deposit` of `/wapi/v1/capital/deposits`: credited when committed (`confirmed`); naive ISO `createdAt`."""
    return {
        "id": transfer.id,
        "toAddress": transfer.address,
        "fromAddress": None,
        "confirmationBlockNumber": None,
        "identifier": transfer.transfer_id,
        "source": DEPOSIT_SOURCE if transfer.blockchain is None else transfer.blockchain.lower(),
        "status": transfer.status,
        "transactionHash": transfer.transaction_hash,
        "subaccountId": None,
        "symbol": transfer.asset,
        "quantity": dec(transfer.amount),
        "createdAt": naive_iso(transfer.ts),
        "fiatAmount": None,
        "fiatCurrency": None,
        "institutionBic": None,
        "platformMemo": None,
    }


def withdrawal_fields(transfer: queries.Transfer) -> Json:
    """`Withdrawal` of `/wapi/v1/capital/withdrawals`: its status (pending, confirmed or failed), fee "0"."""
    return {
        "id": transfer.id,
        "blockchain": transfer.blockchain,
        "clientId": None,
        "identifier": transfer.transfer_id,
        "quantity": dec(transfer.amount),
        "fee": "0",
        "symbol": transfer.asset,
        "status": transfer.status,
        "subaccountId": None,
        "toAddress": transfer.address,
        "transactionHash": transfer.transaction_hash,
        "createdAt": naive_iso(transfer.ts),
        "isInternal": False,
        "triggerAt": None,
        "accountIdentifier": None,
        "bankIdentifier": None,
        "bankName": None,
        "fiatFee": None,
        "fiatState": None,
        "fiatSymbol": None,
        "providerId": None,
    }


def balance_fields(assets: Mapping[str, Asset], balances: Mapping[str, tuple[int, int]]) -> Json:
    """`/api/v1/capital`: `{asset: {available, locked, staked}}` for every asset held."""
    return {
        symbol: {
            "available": dec(assets[symbol].amount(available)),
            "locked": dec(assets[symbol].amount(locked)),
            "staked": "0",
        }
        for symbol, (available, locked) in sorted(balances.items())
    }


def error_fields(code: str, message: str) -> Json:
    """`ApiErrorResponse`."""
    return {"code": code, "message": message}


def batch_ok(fields: Json) -> Json:
    """One item of `POST /api/v1/orders` that succeeded: the order's fields tagged `"operation": "Ok"`."""
    return {"operation": "Ok", **fields}


def batch_err(code: str, message: str) -> Json:
    """One item of `POST /api/v1/orders` that failed: an `ApiErrorResponse` tagged `"operation": "Err"`."""
    return {"operation": "Err", **error_fields(code, message)}
