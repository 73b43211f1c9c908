"""Backpack's private REST routes: ED25519-signed balance, order, history and transfer-history endpoints.

Each handler runs after the preamble every endpoint shares (`exchange.api.routes`: the
params parsed, the signature verified for the endpoint's instruction and scope, the
key's rate limit charged), then converts decimals to engine units (400 for an off-tick
price or off-step quantity), and only then submits one command to the engine actor, so
a refused request changes nothing. The reply is built from the command's committed events (`replies.order_after`),
or, for reads, from an `actor.query` that runs at a committed point.
"""

from __future__ import annotations

import asyncio
import time

from starlette.responses import Response

from exchange.api.errors import REJECTIONS, RejectedError
from exchange.api.routes import Call, Handler
from exchange.api.service import Api, JsonResponse, now_us
from exchange.engine.commands import CancelAllOrders, CancelOrder, PlaceOrder
from exchange.engine.events import Event, OrderAccepted
from exchange.engine.numbers import Market
from exchange.engine.queries import GetBalances, GetOpenOrders, GetOrder, Holding, OrderView
from exchange.observability import observe_stage
from exchange.persistence import queries
from exchange.protocol import decoding, endpoints, ours, replies, requests
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
    view = replies.order_after(events, accepted.order.id)
    assert view is not None
    return replies.order_fields(view, market)


async def _parse_order(api: Api, params: decoding.Params, account_id: int) -> tuple[PlaceOrder, Market]:
    market = await api.market(ours.market_ref(params))
    command = requests.parse_order(params, {market.symbol: market}, account_id=account_id, ts=now_us())
    return command, market


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
            return replies.batch_ok(_placed(await api.execute(command), market))
        except ApiError as error:
            return replies.batch_err(error.code, error.message)
        except RejectedError as error:
            code = REJECTIONS[error.rejected.reason][1]
            return replies.batch_err(code, error.rejected.message)

    tasks = [asyncio.ensure_future(one(params)) for params in call.batch]
    return JsonResponse(await asyncio.gather(*tasks))


async def query_order(call: Call) -> Response:
    """GET /api/v1/order (orderQuery): one order resting on the book, by orderId or clientId."""
    api, params, principal = call.api, call.params, call.signer
    market = await api.market(ours.market_ref(params))
    order_id, client_id = requests.parse_order_ref(params)
    wanted = GetOrder(account_id=principal.account_id, symbol=market.symbol, order_id=order_id, client_id=client_id)
    view: OrderView | None = await api.actor.query(wanted)
    if view is None:
        raise ApiError(404, Code.RESOURCE_NOT_FOUND, "Order not found")
    return JsonResponse(replies.order_fields(view, market))


async def cancel_order(call: Call) -> Response:
    """DELETE /api/v1/order (orderCancel): cancel one open order; the reply is the cancelled order."""
    api, params, principal = call.api, call.params, call.signer
    market = await api.market(ours.market_ref(params))
    order_id, client_id = requests.parse_order_ref(params)
    command = CancelOrder(
        account_id=principal.account_id, symbol=market.symbol, order_id=order_id, client_id=client_id, ts=now_us()
    )
    closed = replies.closed_orders(await api.execute(command))
    return JsonResponse(replies.order_fields(closed[0], market))


async def query_orders(call: Call) -> Response:
    """GET /api/v1/orders (orderQueryAll): the account's open orders, optionally in one market."""
    api, params, principal = call.api, call.params, call.signer
    symbol = ours.market_ref(params)
    if symbol is not None:
        symbol = (await api.market(symbol)).symbol
    views: tuple[OrderView, ...] = await api.actor.query(GetOpenOrders(account_id=principal.account_id, symbol=symbol))
    markets = api.catalog.markets
    return JsonResponse([replies.order_fields(view, markets[view.spec.symbol]) for view in views])


async def cancel_orders(call: Call) -> Response:
    """DELETE /api/v1/orders (orderCancelAll): cancel every open order of the account in one market."""
    api, params, principal = call.api, call.params, call.signer
    market = await api.market(ours.market_ref(params))
    command = CancelAllOrders(account_id=principal.account_id, symbol=market.symbol, ts=now_us())
    closed = replies.closed_orders(await api.execute(command))
    return JsonResponse([replies.order_fields(view, market) for view in closed])


async def order_history(call: Call) -> Response:
    """GET /wapi/v1/history/orders (orderHistoryQueryAll): the account's orders, newest first (or oldest), paged."""
    api, params, principal = call.api, call.params, call.signer
    wanted = requests.parse_history_query(params)
    rows = await api.queries.order_history(
        principal.account_id,
        symbol=await _symbol(api, wanted),
        order_id=wanted.order_id,
        limit=wanted.page.limit,
        offset=wanted.page.offset,
        ascending=wanted.ascending,
    )
    markets = api.catalog.markets
    views = [replies.stored_order(row, markets[row.symbol]) for row in rows]
    return JsonResponse([replies.order_fields(v, markets[v.spec.symbol], history=True) for v in views])


async def fill_history(call: Call) -> Response:
    """GET /wapi/v1/history/fills (fillHistoryQueryAll): the account's fills, filtered by symbol and time (ms)."""
    api, params, principal = call.api, call.params, call.signer
    wanted = requests.parse_history_query(params)
    symbol = await _symbol(api, wanted)
    window = requests.parse_fill_window(params)
    if not window.user_fills:
        return JsonResponse([])
    fills = await api.queries.fill_history(
        principal.account_id,
        symbol=symbol,
        order_id=wanted.order_id,
        start=window.start,
        end=window.end,
        limit=wanted.page.limit,
        offset=wanted.page.offset,
        ascending=wanted.ascending,
    )
    return JsonResponse([replies.fill_fields(f) for f in fills])


async def _transfers(call: Call, kind: queries.TransferKind) -> list[queries.Transfer]:
    api, params, principal = call.api, call.params, call.signer
    wanted = requests.parse_transfer_query(params)
    return await api.queries.transfer_history(
        principal.account_id,
        kind=kind,
        start=wanted.start,
        end=wanted.end,
        limit=wanted.page.limit,
        offset=wanted.page.offset,
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
    return JsonResponse([replies.deposit_fields(t) for t in await _transfers(call, "deposit")])


async def withdrawal_history(call: Call) -> Response:
    """GET /wapi/v1/capital/withdrawals (withdrawalQueryAll): the account's withdrawals, newest first, by time and page.

    A withdrawal is a ledger debit that settles when committed and goes to no chain: `status`
    "confirmed", `fee` "0" (as `/api/v1/assets` lists `withdrawalFee`), `isInternal` false
    (the funds left the exchange, not to another account of it), and `blockchain`,
    `toAddress`, `transactionHash` null. `id` numbers transfers in commit order; `identifier`
    is the ledger's transfer id the withdrawal request answered with.
    """
    return JsonResponse([replies.withdrawal_fields(t) for t in await _transfers(call, "withdrawal")])


async def account(call: Call) -> Response:
    """GET /api/v1/account (accountQuery): the account's settings, fees and limits."""
    return JsonResponse(replies.account_settings_fields(call.api.catalog.markets.values()))


async def update_account(call: Call) -> Response:
    """PATCH /api/v1/account (accountUpdate): nothing of a spot account can change; restating a setting is a no-op."""
    requests.check_account_update(call.params)
    return await account(call)


async def _symbol(api: Api, wanted: requests.HistoryQuery) -> str | None:
    """The market a history query is filtered to, if any (an unknown symbol is a 400)."""
    return None if wanted.symbol is None else (await api.market(wanted.symbol)).symbol


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
