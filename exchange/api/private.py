"""Backpack's private REST routes: ED25519-signed balance, order, history and transfer-history endpoints.

Each handler follows the same steps, in an order that guarantees a refused request
changes nothing: parse the params (a malformed body is a 400 before anything else),
verify the signature for the route's own instruction and the key's scope (401/403),
charge the key's rate limit (429), convert decimals to engine units (400 for an
off-tick price or off-step quantity), and only then submit one command to the engine
actor. The reply is built from the command's committed events (`replies.order_after`),
or, for reads, from an `actor.query` that runs at a committed point.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.api.errors import REJECTIONS, RejectedError
from exchange.api.service import Api, JsonResponse, api_of, now_us
from exchange.engine.commands import CancelAllOrders, CancelOrder, PlaceOrder
from exchange.engine.events import Event, OrderAccepted
from exchange.engine.numbers import Market
from exchange.engine.queries import GetBalances, GetOpenOrders, GetOrder, Holding, OrderView
from exchange.observability import observe_stage
from exchange.persistence import queries
from exchange.protocol import decoding, ours, replies, requests
from exchange.protocol.codes import ApiError, Code
from exchange.protocol.endpoints import Scope

MAX_BATCH = 20


async def capital(request: Request) -> Response:
    """GET /api/v1/capital (balanceQuery): available and locked per asset."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "balanceQuery", Scope.READ, [params])
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


async def execute_order(request: Request) -> Response:
    """POST /api/v1/order (orderExecute): place one order; the reply is its state once committed."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderExecute", Scope.TRADE, [params])
    command, market = await _parse_order(api, params, principal.account_id)
    observe_stage("parse_verify", time.perf_counter() - request.state.started)
    events = await api.execute(command)
    request.state.replied = time.perf_counter()
    return JsonResponse(_placed(events, market))


async def execute_orders(request: Request) -> Response:
    """POST /api/v1/orders (orderExecute per element): a batch of up to 20 orders, each Ok or Err."""
    api = api_of(request)
    body = await api.body(request)
    if not isinstance(body, list) or not body or len(body) > MAX_BATCH:
        raise ApiError(400, Code.INVALID_CLIENT_REQUEST, f"the body must be an array of 1 to {MAX_BATCH} orders")
    batch = [decoding.scalar_params(item) for item in body]
    principal = await api.signed(request, "orderExecute", Scope.TRADE, batch)

    async def one(params: decoding.Params) -> decoding.Json:
        try:
            command, market = await _parse_order(api, params, principal.account_id)
            return replies.batch_ok(_placed(await api.execute(command), market))
        except ApiError as error:
            return replies.batch_err(error.code, error.message)
        except RejectedError as error:
            code = REJECTIONS[error.rejected.reason][1]
            return replies.batch_err(code, error.rejected.message)

    tasks = [asyncio.ensure_future(one(params)) for params in batch]
    return JsonResponse(await asyncio.gather(*tasks))


async def query_order(request: Request) -> Response:
    """GET /api/v1/order (orderQuery): one order resting on the book, by orderId or clientId."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderQuery", Scope.READ, [params])
    market = await api.market(ours.market_ref(params))
    order_id, client_id = requests.parse_order_ref(params)
    wanted = GetOrder(account_id=principal.account_id, symbol=market.symbol, order_id=order_id, client_id=client_id)
    view: OrderView | None = await api.actor.query(wanted)
    if view is None:
        raise ApiError(404, Code.RESOURCE_NOT_FOUND, "Order not found")
    return JsonResponse(replies.order_fields(view, market))


async def cancel_order(request: Request) -> Response:
    """DELETE /api/v1/order (orderCancel): cancel one open order; the reply is the cancelled order."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderCancel", Scope.TRADE, [params])
    market = await api.market(ours.market_ref(params))
    order_id, client_id = requests.parse_order_ref(params)
    command = CancelOrder(
        account_id=principal.account_id, symbol=market.symbol, order_id=order_id, client_id=client_id, ts=now_us()
    )
    closed = replies.closed_orders(await api.execute(command))
    return JsonResponse(replies.order_fields(closed[0], market))


async def query_orders(request: Request) -> Response:
    """GET /api/v1/orders (orderQueryAll): the account's open orders, optionally in one market."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderQueryAll", Scope.READ, [params])
    symbol = ours.market_ref(params)
    if symbol is not None:
        symbol = (await api.market(symbol)).symbol
    views: tuple[OrderView, ...] = await api.actor.query(GetOpenOrders(account_id=principal.account_id, symbol=symbol))
    markets = api.catalog.markets
    return JsonResponse([replies.order_fields(view, markets[view.spec.symbol]) for view in views])


async def cancel_orders(request: Request) -> Response:
    """DELETE /api/v1/orders (orderCancelAll): cancel every open order of the account in one market."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderCancelAll", Scope.TRADE, [params])
    market = await api.market(ours.market_ref(params))
    command = CancelAllOrders(account_id=principal.account_id, symbol=market.symbol, ts=now_us())
    closed = replies.closed_orders(await api.execute(command))
    return JsonResponse([replies.order_fields(view, market) for view in closed])


async def order_history(request: Request) -> Response:
    """GET /wapi/v1/history/orders (orderHistoryQueryAll): the account's orders, newest first (or oldest), paged."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "orderHistoryQueryAll", Scope.READ, [params])
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


async def fill_history(request: Request) -> Response:
    """GET /wapi/v1/history/fills (fillHistoryQueryAll): the account's fills, filtered by symbol and time (ms)."""
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, "fillHistoryQueryAll", Scope.READ, [params])
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


async def _transfers(request: Request, instruction: str, kind: queries.TransferKind) -> list[queries.Transfer]:
    api = api_of(request)
    params = await api.params(request)
    principal = await api.signed(request, instruction, Scope.READ, [params])
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


async def deposit_history(request: Request) -> Response:
    """GET /wapi/v1/capital/deposits (depositQueryAll): the account's deposits, newest first, by time (ms) and page.

    Every deposit here is a ledger credit (the demo faucet or the operator's on-ramp), never
    a chain transfer, so each is sent as Backpack sends a credit it made itself: `source`
    "administrator", `status` "confirmed" (settled when committed), and `toAddress`,
    `fromAddress`, `transactionHash`, `confirmationBlockNumber` null. `id` numbers transfers in
    commit order; `identifier` is the ledger's transfer id the deposit request answered with.
    """
    return JsonResponse([replies.deposit_fields(t) for t in await _transfers(request, "depositQueryAll", "deposit")])


async def withdrawal_history(request: Request) -> Response:
    """GET /wapi/v1/capital/withdrawals (withdrawalQueryAll): the account's withdrawals, newest first, by time and page.

    A withdrawal is a ledger debit that settles when committed and goes to no chain: `status`
    "confirmed", `fee` "0" (as `/api/v1/assets` lists `withdrawalFee`), `isInternal` false
    (the funds left the exchange, not to another account of it), and `blockchain`,
    `toAddress`, `transactionHash` null. `id` numbers transfers in commit order; `identifier`
    is the ledger's transfer id the withdrawal request answered with.
    """
    return JsonResponse(
        [replies.withdrawal_fields(t) for t in await _transfers(request, "withdrawalQueryAll", "withdrawal")]
    )


async def _symbol(api: Api, wanted: requests.HistoryQuery) -> str | None:
    """The market a history query is filtered to, if any (an unknown symbol is a 400)."""
    return None if wanted.symbol is None else (await api.market(wanted.symbol)).symbol


ROUTES = [
    Route("/api/v1/capital", capital, methods=["GET"]),
    Route("/api/v1/order", execute_order, methods=["POST"]),
    Route("/api/v1/order", query_order, methods=["GET"]),
    Route("/api/v1/order", cancel_order, methods=["DELETE"]),
    Route("/api/v1/orders", execute_orders, methods=["POST"]),
    Route("/api/v1/orders", query_orders, methods=["GET"]),
    Route("/api/v1/orders", cancel_orders, methods=["DELETE"]),
    Route("/wapi/v1/history/orders", order_history, methods=["GET"]),
    Route("/wapi/v1/history/fills", fill_history, methods=["GET"]),
    Route("/wapi/v1/capital/deposits", deposit_history, methods=["GET"]),
    Route("/wapi/v1/capital/withdrawals", withdrawal_history, methods=["GET"]),
]
