"""Backpack's public REST routes: listings, market data and system endpoints.

Book state (depth, listings with their halt flag) is read from the engine through
`actor.query`, at a committed point; trades, klines and 24h tickers come from the
database (`exchange.persistence.queries`), which holds exactly what was committed.
Depth has both sides ascending by price (the best bid last, as Backpack sends it) and
its `lastUpdateId` is the market's depth sequence, the one the `depth.<symbol>`
stream's `U`/`u` continue.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from exchange.api.service import Api, JsonResponse, api_of, now_us, query_params
from exchange.engine.queries import Depth, GetDepth, GetListings, Listings
from exchange.protocol import replies, requests


async def status(request: Request) -> Response:
    """GET /api/v1/status."""
    return JsonResponse(replies.status_fields(api_of(request).actor.ready))


async def ping(request: Request) -> Response:
    """GET /api/v1/ping: `pong` in plain text."""
    return PlainTextResponse("pong")


async def server_time(request: Request) -> Response:
    """GET /api/v1/time: the server's clock in ms, a bare integer in plain text."""
    return PlainTextResponse(str(int(time.time() * 1000)))


async def securities(request: Request) -> Response:
    """GET /api/v1/securities: no tokenized stocks here (ccxt's load_markets asks)."""
    return JsonResponse([])


async def assets(request: Request) -> Response:
    """GET /api/v1/assets: every listed asset."""
    api = api_of(request)
    await api.markets()
    return JsonResponse([replies.asset_fields(a) for a in sorted(api.catalog.assets.values(), key=lambda a: a.symbol)])


async def _halted(api: Api) -> dict[str, bool]:
    listings: Listings = await api.actor.query(GetListings())
    return {state.market.symbol: state.halted for state in listings.markets}


async def markets(request: Request) -> Response:
    """GET /api/v1/markets: every spot market with its filters."""
    api = api_of(request)
    halted = await _halted(api)
    listed = api.catalog.markets
    if set(halted) - set(listed):
        await api.refresh_catalog()
    return JsonResponse(
        [
            replies.market_fields(listed[s], halted=halted[s], created_at=api.catalog.listed_at.get(s, 0))
            for s in sorted(halted)
            if s in listed
        ]
    )


async def market(request: Request) -> Response:
    """GET /api/v1/market?symbol=: one market."""
    api = api_of(request)
    found = await api.market(requests.symbol_param(query_params(request)))
    halted = (await _halted(api))[found.symbol]
    return JsonResponse(
        replies.market_fields(found, halted=halted, created_at=api.catalog.listed_at.get(found.symbol, 0))
    )


async def depth(request: Request) -> Response:
    """GET /api/v1/depth?symbol=&limit=: the book's best levels, ascending by price."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(requests.symbol_param(params))
    limit = requests.parse_depth_limit(params)
    book: Depth = await api.actor.query(GetDepth(symbol=found.symbol, limit=limit))
    return JsonResponse(
        replies.depth_fields(found, sequence=book.sequence, bids=book.bids, asks=book.asks, ts=now_us())
    )


async def ticker(request: Request) -> Response:
    """GET /api/v1/ticker?symbol=: 24h rolling statistics of one market."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(requests.symbol_param(params))
    requests.check_ticker_interval(params)
    stats = await api.queries.tickers(now_us(), found.symbol)
    return JsonResponse(replies.ticker_fields(found.symbol, stats[0] if stats else None))


async def tickers(request: Request) -> Response:
    """GET /api/v1/tickers: 24h rolling statistics of every market."""
    api = api_of(request)
    requests.check_ticker_interval(query_params(request))
    stats = {t.symbol: t for t in await api.queries.tickers(now_us())}
    return JsonResponse([replies.ticker_fields(symbol, stats.get(symbol)) for symbol in sorted(await api.markets())])


async def klines(request: Request) -> Response:
    """GET /api/v1/klines?symbol=&interval=&startTime=&endTime=: candles, ascending; times in seconds."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(requests.symbol_param(params))
    wanted = requests.parse_klines_query(params, now=int(time.time()))
    candles = await api.queries.klines(found.symbol, wanted.interval, wanted.start * 1_000_000, wanted.end * 1_000_000)
    return JsonResponse([replies.kline_fields(c) for c in candles])


async def trades(request: Request) -> Response:
    """GET /api/v1/trades?symbol=&limit=: the most recent trades, newest first."""
    return await _trades(request, paged=False)


async def trades_history(request: Request) -> Response:
    """GET /api/v1/trades/history?symbol=&limit=&offset=: older trades, newest first."""
    return await _trades(request, paged=True)


async def _trades(request: Request, *, paged: bool) -> Response:
    api = api_of(request)
    params = query_params(request)
    found = await api.market(requests.symbol_param(params))
    page = requests.parse_page(params, paged=paged)
    found_trades = await api.queries.recent_trades(found.symbol, limit=page.limit, offset=page.offset)
    return JsonResponse([replies.trade_fields(t) for t in found_trades])


ROUTES = [
    Route("/api/v1/status", status, methods=["GET"]),
    Route("/api/v1/ping", ping, methods=["GET"]),
    Route("/api/v1/time", server_time, methods=["GET"]),
    Route("/api/v1/securities", securities, methods=["GET"]),
    Route("/api/v1/assets", assets, methods=["GET"]),
    Route("/api/v1/markets", markets, methods=["GET"]),
    Route("/api/v1/market", market, methods=["GET"]),
    Route("/api/v1/depth", depth, methods=["GET"]),
    Route("/api/v1/ticker", ticker, methods=["GET"]),
    Route("/api/v1/tickers", tickers, methods=["GET"]),
    Route("/api/v1/klines", klines, methods=["GET"]),
    Route("/api/v1/trades", trades, methods=["GET"]),
    Route("/api/v1/trades/history", trades_history, methods=["GET"]),
]
