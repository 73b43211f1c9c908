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

from starlette.responses import PlainTextResponse, Response

from exchange.api.routes import Call, Handler
from exchange.api.service import Api, JsonResponse, now_us
from exchange.engine.numbers import Market
from exchange.engine.queries import Depth, GetDepth, GetListings, Listings
from exchange.protocol import endpoints, replies, requests
from exchange.protocol.endpoints import Endpoint


async def status(call: Call) -> Response:
    """GET /api/v1/status."""
    return JsonResponse(replies.STATUS.encode(call.api.actor.ready))


async def ping(call: Call) -> Response:
    """GET /api/v1/ping: `pong` in plain text."""
    return PlainTextResponse("pong")


async def server_time(call: Call) -> Response:
    """GET /api/v1/time: the server's clock in ms, a bare integer in plain text."""
    return PlainTextResponse(str(int(time.time() * 1000)))


async def securities(call: Call) -> Response:
    """GET /api/v1/securities: no tokenized stocks here (ccxt's load_markets asks)."""
    return JsonResponse([])


async def assets(call: Call) -> Response:
    """GET /api/v1/assets: every listed asset."""
    api = call.api
    await api.markets()
    return JsonResponse([replies.ASSET.encode(a) for a in sorted(api.catalog.assets.values(), key=lambda a: a.symbol)])


async def _halted(api: Api) -> dict[str, bool]:
    listings: Listings = await api.actor.query(GetListings())
    return {state.market.symbol: state.halted for state in listings.markets}


async def markets(call: Call) -> Response:
    """GET /api/v1/markets: every spot market with its filters."""
    api = call.api
    halted = await _halted(api)
    listed = api.catalog.markets
    if set(halted) - set(listed):
        await api.refresh_catalog()
    return JsonResponse(
        [replies.MARKET.encode(_listing(api, listed[s], halted[s])) for s in sorted(halted) if s in listed]
    )


def _listing(api: Api, market: Market, halted: bool) -> replies.Listing:
    return replies.Listing(market, halted, api.catalog.listed_at.get(market.symbol, 0))


async def market(call: Call) -> Response:
    """GET /api/v1/market?symbol=: one market."""
    api = call.api
    found = await api.market(requests.MarketQuery.read(call.params).symbol)
    return JsonResponse(replies.MARKET.encode(_listing(api, found, (await _halted(api))[found.symbol])))


async def depth(call: Call) -> Response:
    """GET /api/v1/depth?symbol=&limit=: the book's best levels, ascending by price."""
    api, wanted = call.api, requests.DepthQuery.read(call.params)
    found = await api.market(wanted.symbol)
    book: Depth = await api.actor.query(GetDepth(symbol=found.symbol, limit=wanted.limit))
    return JsonResponse(replies.DEPTH.encode(replies.Book(found, book.sequence, book.bids, book.asks, now_us())))


async def ticker(call: Call) -> Response:
    """GET /api/v1/ticker?symbol=: 24h rolling statistics of one market."""
    api = call.api
    found = await api.market(requests.TickerQuery.read(call.params).symbol)
    stats = await api.queries.tickers(now_us(), found.symbol)
    return JsonResponse(replies.ticker_fields(found.symbol, stats[0] if stats else None))


async def tickers(call: Call) -> Response:
    """GET /api/v1/tickers: 24h rolling statistics of every market."""
    api = call.api
    requests.TickersQuery.read(call.params)
    stats = {t.symbol: t for t in await api.queries.tickers(now_us())}
    return JsonResponse([replies.ticker_fields(symbol, stats.get(symbol)) for symbol in sorted(await api.markets())])


async def klines(call: Call) -> Response:
    """GET /api/v1/klines?symbol=&interval=&startTime=&endTime=: candles, ascending; times in seconds."""
    api, wanted = call.api, requests.KlinesQuery.read(call.params)
    found = await api.market(wanted.symbol)
    interval, start, end = requests.klines_window(wanted, now=int(time.time()))
    candles = await api.queries.klines(found.symbol, interval, start * 1_000_000, end * 1_000_000)
    return JsonResponse([replies.KLINE.encode(c) for c in candles])


async def trades(call: Call) -> Response:
    """GET /api/v1/trades?symbol=&limit=: the most recent trades, newest first."""
    wanted = requests.TradesQuery.read(call.params)
    return await _trades(call.api, wanted.symbol, limit=wanted.limit, offset=0)


async def trades_history(call: Call) -> Response:
    """GET /api/v1/trades/history?symbol=&limit=&offset=: older trades, newest first."""
    wanted = requests.TradesHistoryQuery.read(call.params)
    return await _trades(call.api, wanted.symbol, limit=wanted.limit, offset=wanted.offset)


async def _trades(api: Api, symbol: str, *, limit: int, offset: int) -> Response:
    found = await api.market(symbol)
    found_trades = await api.queries.recent_trades(found.symbol, limit=limit, offset=offset)
    return JsonResponse([replies.TRADE.encode(t) for t in found_trades])


HANDLERS: dict[Endpoint, Handler] = {
    endpoints.STATUS: status,
    endpoints.PING: ping,
    endpoints.TIME: server_time,
    endpoints.SECURITIES: securities,
    endpoints.ASSETS: assets,
    endpoints.MARKETS: markets,
    endpoints.ONE_MARKET: market,
    endpoints.DEPTH: depth,
    endpoints.TICKER: ticker,
    endpoints.TICKERS: tickers,
    endpoints.KLINES: klines,
    endpoints.TRADES: trades,
    endpoints.TRADES_HISTORY: trades_history,
}
