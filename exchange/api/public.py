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

from exchange.api import wire
from exchange.api.errors import ApiError
from exchange.api.service import JsonResponse, api_of, now_us, query_params
from exchange.engine.engine import Engine

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
KLINE_INTERVALS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
    "1month": 2592000,
}
MAX_KLINES = 1000


async def status(request: Request) -> Response:
    """GET /api/v1/status."""
    api = api_of(request)
    ready = api.actor.ready
    return JsonResponse({"status": "Ok" if ready else "Maintenance", "message": None if ready else "engine halted"})


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
    return JsonResponse([wire.asset_fields(a) for a in sorted(api.catalog.assets.values(), key=lambda a: a.symbol)])


def _halted(engine: Engine) -> dict[str, bool]:
    return {symbol: book.halted for symbol, book in engine.books.items()}


async def markets(request: Request) -> Response:
    """GET /api/v1/markets: every spot market with its filters."""
    api = api_of(request)
    halted = await api.actor.query(_halted)
    listed = api.catalog.markets
    if set(halted) - set(listed):
        await api.refresh_catalog()
    return JsonResponse(
        [
            wire.market_fields(listed[s], halted=halted[s], created_at=api.catalog.listed_at.get(s, 0))
            for s in sorted(halted)
            if s in listed
        ]
    )


async def market(request: Request) -> Response:
    """GET /api/v1/market?symbol=: one market."""
    api = api_of(request)
    found = await api.market(query_params(request).get("symbol"))
    halted = await api.actor.query(lambda e: e.books[found.symbol].halted)
    return JsonResponse(wire.market_fields(found, halted=halted, created_at=api.catalog.listed_at.get(found.symbol, 0)))


async def depth(request: Request) -> Response:
    """GET /api/v1/depth?symbol=&limit=: the book's best levels, ascending by price."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(params.get("symbol"))
    limit = wire.parse_limit(params, default=1000, maximum=1000)
    if limit not in DEPTH_LIMITS:
        raise ApiError(400, "INVALID_CLIENT_REQUEST", f"limit must be one of {', '.join(map(str, DEPTH_LIMITS))}")
    sequence, bids, asks = await api.actor.query(lambda e: e.depth(found.symbol, limit))
    return JsonResponse(wire.depth_fields(found, sequence=sequence, bids=bids, asks=asks, ts=now_us()))


async def ticker(request: Request) -> Response:
    """GET /api/v1/ticker?symbol=: 24h rolling statistics of one market."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(params.get("symbol"))
    _check_ticker_interval(params)
    stats = await api.queries.tickers(now_us(), found.symbol)
    return JsonResponse(wire.ticker_fields(found.symbol, stats[0] if stats else None))


async def tickers(request: Request) -> Response:
    """GET /api/v1/tickers: 24h rolling statistics of every market."""
    api = api_of(request)
    _check_ticker_interval(query_params(request))
    stats = {t.symbol: t for t in await api.queries.tickers(now_us())}
    return JsonResponse([wire.ticker_fields(symbol, stats.get(symbol)) for symbol in sorted(await api.markets())])


def _check_ticker_interval(params: wire.Params) -> None:
    if params.get("interval") not in (None, "1d"):
        raise ApiError(400, "INVALID_CLIENT_REQUEST", "interval must be 1d")


async def klines(request: Request) -> Response:
    """GET /api/v1/klines?symbol=&interval=&startTime=&endTime=: candles, ascending; times in seconds."""
    api = api_of(request)
    params = query_params(request)
    found = await api.market(params.get("symbol"))
    interval = params.get("interval")
    if interval not in KLINE_INTERVALS:
        raise ApiError(400, "INVALID_CLIENT_REQUEST", f"interval must be one of {', '.join(KLINE_INTERVALS)}")
    assert isinstance(interval, str)
    start = wire.parse_uint(wire.required(params, "startTime"), name="startTime", maximum=2**40)
    end_param = params.get("endTime")
    end = int(time.time()) if end_param is None else wire.parse_uint(end_param, name="endTime", maximum=2**40)
    if params.get("priceType") not in (None, "Last"):
        raise ApiError(400, "INVALID_CLIENT_REQUEST", "priceType must be Last")
    if end < start:
        raise ApiError(400, "INVALID_RANGE", "endTime must not be before startTime")
    seconds = KLINE_INTERVALS[interval]
    start = max(start, end - seconds * MAX_KLINES)
    candles = await api.queries.klines(found.symbol, interval, start * 1_000_000, end * 1_000_000)
    return JsonResponse([wire.kline_fields(c) for c in candles])


async def trades(request: Request) -> Response:
    """GET /api/v1/trades?symbol=&limit=: the most recent trades, newest first."""
    return await _trades(request, paged=False)


async def trades_history(request: Request) -> Response:
    """GET /api/v1/trades/history?symbol=&limit=&offset=: older trades, newest first."""
    return await _trades(request, paged=True)


async def _trades(request: Request, *, paged: bool) -> Response:
    api = api_of(request)
    params = query_params(request)
    found = await api.market(params.get("symbol"))
    limit = wire.parse_limit(params, default=100, maximum=1000)
    offset_param = params.get("offset") if paged else None
    offset = 0 if offset_param is None else wire.parse_uint(offset_param, name="offset", maximum=10**9)
    found_trades = await api.queries.recent_trades(found.symbol, limit=limit, offset=offset)
    return JsonResponse([wire.trade_fields(t) for t in found_trades])


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
