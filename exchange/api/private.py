"""Backpack's private REST routes: ED25519-signed balance, order, history and transfer-history endpoints.

Each handler runs after the preamble every endpoint shares (`exchange.api.routes`: the
params parsed, the signature verified for the endpoint's instruction and scope, the
key's rate limit charged), then converts decimals to engine units (400 for an off-tick
price or off-step quantity), and only then submits one command to the engine actor, so
a refused request changes nothing. The reply is built from the command's committed events (`_order_after`),
or, for reads, from an `actor.query` that runs at a committed point.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from starlette.responses import Response

from exchange.api.errors import REJECTIONS, RejectedError
from exchange.api.routes import Call, Handler
from exchange.api.service import Api, JsonResponse, now_us
from exchange.engine.commands import CancelAllOrders, CancelOrder, PlaceOrder
from exchange.engine.events import Event, OrderAccepted, OrderCancelled, OrderExpired, OrderFilled
from exchange.engine.numbers import Market
from exchange.engine.orders import OrderStatus
from exchange.engine.queries import GetBalances, GetOpenOrders, GetOrder, Holding, OrderView
from exchange.observability import observe_stage
from exchange.persistence import queries
from exchange.protocol import decoding, endpoints, replies, requests
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.endpoints import Endpoint


async def capital(call: Call) -> Response:
    """GET /api/v1/capital (balanceQuery): available and locked per asset."""
    api, principal = call.api, call.signer
    holdings: tuple[Holding, ...] = await api.actor.query(GetBalances(account_id=principal.account_id))
    balances = {h.asset: (h.available, h.locked) for h in holdings}
    return JsonResponse(replies.balance_fields(api.catalog.assets, balances))


def _placed(events: list[Event], market: Market) -> decoding.Json:
    accepted = next(e for e in events if isinstance(e, OrderAccepted))
    view = _order_after(events, accepted.order.id)
    assert view is not None
    return replies.ORDER.encode(replies.Placed(view, market))


async def _parse_order(api: Api, params: decoding.Params, account_id: int) -> tuple[PlaceOrder, Market]:
    order = requests.OrderRequest.read(params)
    market = await api.market(order.symbol)
    return requests.parse_order(order, market, account_id=account_id, ts=now_us()), market


async def execute_order(call: Call) -> Response:
    """POST /api/v1/order (orderExecute): place one order; the reply is its state once committed."""
    api, params, principal = call.api, call.params, call.signer
    command, market = await _parse_order(api, params, principal.account_id)
    observe_stage("parse_verify", time.perf_counter() - call.request.state.started)
    events = await api.execute(command)
    call.request.state.replied = time.perf_counter()
    return JsonResponse(_placed(events, market))


async def execute_orders(call: Call) -> Response:
    """POST /api/v1/orders (orderExecute per element): a batch of up to 20 orders, each Ok or Err."""
    api, principal = call.api, call.signer

    async def one(params: decoding.Params) -> decoding.Json:
        try:
            command, market = await _parse_order(api, params, principal.account_id)
            return replies.batch_item(_placed(await api.execute(command), market), ok=True)
        except ApiError as error:
            return replies.batch_item(replies.ERROR.encode((error.code, error.message)), ok=False)
        except RejectedError as error:
            code = REJECTIONS[error.rejected.reason][1]
            return replies.batch_item(replies.ERROR.encode((code, error.rejected.message)), ok=False)

    tasks = [asyncio.ensure_future(one(params)) for params in call.batch]
    return JsonResponse(await asyncio.gather(*tasks))


async def query_order(call: Call) -> Response:
    """GET /api/v1/order (orderQuery): one order resting on the book, by orderId or clientId."""
    api, ref, principal = call.api, requests.OrderRefQuery.read(call.params), call.signer
    market = await api.market(ref.symbol)
    wanted = GetOrder(
        account_id=principal.account_id, symbol=market.symbol, order_id=ref.order_id, client_id=ref.client_id
    )
    view: OrderView | None = await api.actor.query(wanted)
    if view is None:
        raise ApiError(404, Code.RESOURCE_NOT_FOUND, "Order not found")
    return JsonResponse(replies.ORDER.encode(replies.Placed(view, market)))


async def cancel_order(call: Call) -> Response:
    """DELETE /api/v1/order (orderCancel): cancel one open order; the reply is the cancelled order."""
    api, ref, principal = call.api, requests.OrderRef.read(call.params), call.signer
    market = await api.market(ref.symbol)
    command = CancelOrder(
        account_id=principal.account_id,
        symbol=market.symbol,
        order_id=ref.order_id,
        client_id=ref.client_id,
        ts=now_us(),
    )
    closed = _closed_orders(await api.execute(command))
    return JsonResponse(replies.ORDER.encode(replies.Placed(closed[0], market)))


async def query_orders(call: Call) -> Response:
    """GET /api/v1/orders (orderQueryAll): the account's open orders, optionally in one market."""
    api, principal = call.api, call.signer
    symbol = requests.OrdersQuery.read(call.params).symbol
    if symbol is not None:
        symbol = (await api.market(symbol)).symbol
    views: tuple[OrderView, ...] = await api.actor.query(GetOpenOrders(account_id=principal.account_id, symbol=symbol))
    markets = api.catalog.markets
    return JsonResponse([replies.ORDER.encode(replies.Placed(view, markets[view.spec.symbol])) for view in views])


async def cancel_orders(call: Call) -> Response:
    """DELETE /api/v1/orders (orderCancelAll): cancel every open order of the account in one market."""
    api, principal = call.api, call.signer
    market = await api.market(requests.SymbolRef.read(call.params).symbol)
    command = CancelAllOrders(account_id=principal.account_id, symbol=market.symbol, ts=now_us())
    closed = _closed_orders(await api.execute(command))
    return JsonResponse([replies.ORDER.encode(replies.Placed(view, market)) for view in closed])


async def order_history(call: Call) -> Response:
    """GET /wapi/v1/history/orders (orderHistoryQueryAll): the account's orders, newest first (or oldest), paged."""
    api, principal = call.api, call.signer
    wanted = requests.HistoryQuery.read(call.params)
    rows = await api.queries.order_history(
        principal.account_id,
        symbol=await _symbol(api, wanted),
        order_id=wanted.order_id,
        limit=wanted.limit,
        offset=wanted.offset,
        ascending=wanted.ascending,
    )
    markets = api.catalog.markets
    placed = [replies.Placed(_stored_order(row, markets[row.symbol]), markets[row.symbol]) for row in rows]
    return JsonResponse([replies.ORDER_HISTORY.encode(order) for order in placed])


async def fill_history(call: Call) -> Response:
    """GET /wapi/v1/history/fills (fillHistoryQueryAll): the account's fills, filtered by symbol and time (ms)."""
    api, principal = call.api, call.signer
    wanted = requests.FillsQuery.read(call.params)
    symbol = await _symbol(api, wanted)
    if wanted.fill_type not in (None, "User"):
        return JsonResponse([])  # only users' fills exist here
    start, end = requests.window(wanted.since, wanted.until)
    fills = await api.queries.fill_history(
        principal.account_id,
        symbol=symbol,
        order_id=wanted.order_id,
        start=start,
        end=end,
        limit=wanted.limit,
        offset=wanted.offset,
        ascending=wanted.ascending,
    )
    return JsonResponse([replies.FILL.encode(f) for f in fills])


async def _transfers(call: Call, kind: queries.TransferKind) -> list[queries.Transfer]:
    api, principal = call.api, call.signer
    wanted = requests.TransfersQuery.read(call.params)
    start, end = requests.window(wanted.since, wanted.until)
    return await api.queries.transfer_history(
        principal.account_id,
        kind=kind,
        start=start,
        end=end,
        limit=wanted.limit,
        offset=wanted.offset,
        ascending=wanted.ascending,
    )


async def deposit_history(call: Call) -> Response:
    """GET /wapi/v1/capital/deposits (depositQueryAll): the account's deposits, newest first, by time (ms) and page.

    Every deposit here is a ledger credit (the demo faucet or the operator's on-ramp), never
    a chain transfer, so each is sent as Backpack sends a credit it made itself: `source`
    "administrator", `status` "confirmed" (settled when committed), and `toAddress`,
    `fromAddress`, `transactionHash`, `confirmationBlockNumber` null. `id` numbers transfers in
    commit order; `identifier` is the ledger's transfer id the deposit request answered with.
    """
    return JsonResponse([replies.DEPOSIT.encode(t) for t in await _transfers(call, "deposit")])


async def withdrawal_history(call: Call) -> Response:
    """GET /wapi/v1/capital/withdrawals (withdrawalQueryAll): the account's withdrawals, newest first, by time and page.

    A withdrawal is a ledger debit that settles when committed and goes to no chain: `status`
    "confirmed", `fee` "0" (as `/api/v1/assets` lists `withdrawalFee`), `isInternal` false
    (the funds left the exchange, not to another account of it), and `blockchain`,
    `toAddress`, `transactionHash` null. `id` numbers transfers in commit order; `identifier`
    is the ledger's transfer id the withdrawal request answered with.
    """
    return JsonResponse([replies.WITHDRAWAL.encode(t) for t in await _transfers(call, "withdrawal")])


async def account(call: Call) -> Response:
    """GET /api/v1/account (accountQuery): the account's settings, fees and limits."""
    return JsonResponse(replies.ACCOUNT_SETTINGS.encode(tuple(call.api.catalog.markets.values())))


async def update_account(call: Call) -> Response:
    """PATCH /api/v1/account (accountUpdate): nothing of a spot account can change; restating a setting is a no-op."""
    requests.AccountUpdate.read(call.params)
    return await account(call)


async def _symbol(api: Api, wanted: requests.HistoryQuery) -> str | None:
    """The market a history query is filtered to, if any (an unknown symbol is a 400)."""
    return None if wanted.symbol is None else (await api.market(wanted.symbol)).symbol


def _stored_order(row: queries.Order, market: Market) -> OrderView:
    """Back to engine units from a stored order (exact: it was written from them)."""
    executed, executed_quote = row.executed(market)
    return OrderView(
        spec=row.spec(market), status=OrderStatus(row.status), executed=executed, executed_quote=executed_quote
    )


def _order_after(events: Sequence[Event], order_id: int) -> OrderView | None:
    """The state of order `order_id` after a command's events (None if they never mention it)."""
    view: OrderView | None = None
    for event in events:
        if isinstance(event, OrderAccepted) and event.order.id == order_id:
            view = OrderView(spec=event.order, status=OrderStatus.NEW, executed=0, executed_quote=0)
        elif isinstance(event, OrderFilled | OrderCancelled | OrderExpired) and event.order.id == order_id:
            view = (
                _closed(event)
                if not isinstance(event, OrderFilled)
                else OrderView(
                    spec=event.order, status=event.status, executed=event.executed, executed_quote=event.executed_quote
                )
            )
    return view


def _closed(event: OrderCancelled | OrderExpired) -> OrderView:
    status = OrderStatus.CANCELLED if isinstance(event, OrderCancelled) else OrderStatus.EXPIRED
    return OrderView(spec=event.order, status=status, executed=event.executed, executed_quote=event.executed_quote)


def _closed_orders(events: Sequence[Event]) -> list[OrderView]:
    """The orders a cancel command closed, in event order."""
    return [_closed(e) for e in events if isinstance(e, OrderCancelled | OrderExpired)]


HANDLERS: dict[Endpoint, Handler] = {
    endpoints.BALANCES: capital,
    endpoints.ORDER_EXECUTE: execute_order,
    endpoints.ORDER_QUERY: query_order,
    endpoints.ORDER_CANCEL: cancel_order,
    endpoints.ORDERS_EXECUTE: execute_orders,
    endpoints.ORDERS_QUERY: query_orders,
    endpoints.ORDERS_CANCEL: cancel_orders,
    endpoints.ORDER_HISTORY: order_history,
    endpoints.FILL_HISTORY: fill_history,
    endpoints.ACCOUNT_QUERY: account,
    endpoints.ACCOUNT_UPDATE: update_account,
    endpoints.DEPOSIT_HISTORY: deposit_history,
    endpoints.WITHDRAWAL_HISTORY: withdrawal_history,
}
