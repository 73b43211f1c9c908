"""What a bot may do, and the two ways of doing it: in the process, or over signed REST.

`Client` is the whole surface the market maker and the taker use: read the markets,
the book, the bot's own open orders and balances; place and cancel orders; deposit
(the faucet, in demo mode). Amounts are in the engine's integers (ticks, steps,
atoms) so the bots' arithmetic is exact and identical whichever client they hold.

- `InProcessClient` submits engine commands through `EngineActor.submit` and reads
  through `EngineActor.query`: exactly the path the REST handlers take, minus HTTP.
- `RestClient` speaks the public API with ED25519-signed requests (`KeyPair.headers`
  in `exchange.api.auth` is the one client-side signing function), so the same bots
  run against any deployment: `exchange bots --url ... --key ...`.

A refused order comes back as `Refused` with the wire error code (the same strings
both ways, e.g. `INSUFFICIENT_FUNDS`), never as an exception: refusals are part of a
bot's life. Transport failures (engine unavailable, HTTP 5xx/429, network) raise, and
the bot's loop backs off and tries again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from exchange.api.auth import KeyPair
from exchange.bots.quoting import Levels, Resting
from exchange.engine.actor import EngineActor
from exchange.engine.commands import CancelOrder, Deposit, PlaceOrder
from exchange.engine.errors import ExchangeError
from exchange.engine.events import OrderAccepted, Rejected
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, Side, TimeInForce
from exchange.engine.queries import (
    Depth,
    GetBalances,
    GetDepth,
    GetListings,
    GetOpenOrders,
    Holding,
    Listings,
    OrderView,
)
from exchange.protocol import client, endpoints, requests
from exchange.protocol.endpoints import ACCOUNT_CREATE, ORDERS_EXECUTE, Endpoint
from exchange.protocol.requests import DEPTH_LIMITS


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """An order as a bot asks for it, in engine units."""

    symbol: str
    side: Side
    order_type: OrderType = OrderType.LIMIT
    price: int | None = None
    quantity: int | None = None
    quote_quantity: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    order_id: int


@dataclass(frozen=True, slots=True)
class Refused:
    code: str
    message: str


Outcome = Placed | Refused


class Client(Protocol):
    """The command interface a bot uses; see the module docstring."""

    async def markets(self) -> dict[str, Market]:
        """Every listed market by symbol."""
        ...

    async def depth(self, symbol: str, limit: int) -> tuple[Levels, Levels]:
        """(bids, asks) of the book, best first, at least the best `limit` levels of each side (when there are)."""
        ...

    async def open_orders(self, symbol: str) -> list[Resting]:
        """The bot's own open orders in a market."""
        ...

    async def balances(self) -> dict[str, int]:
        """The bot's available atoms per asset."""
        ...

    async def place(self, orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Place orders, in order; one outcome each."""
        ...

    async def replace(self, symbol: str, cancel: Sequence[int], orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Cancel orders (ones already gone are ignored), then place `orders`; one outcome per order."""
        ...

    async def deposit(self, asset: str, atoms: int) -> None:
        """Credit the bot's account (the faucet)."""
        ...


def _now_us() -> int:
    return time.time_ns() // 1000


class InProcessClient:
    """A `Client` that talks to the engine actor directly, as account `account_id`."""

    def __init__(self, actor: EngineActor, account_id: int) -> None:
        self.actor = actor
        self.account_id = account_id

    async def markets(self) -> dict[str, Market]:
        """Every listed market by symbol."""
        listings: Listings = await self.actor.query(GetListings())
        return {state.market.symbol: state.market for state in listings.markets}

    async def depth(self, symbol: str, limit: int) -> tuple[Levels, Levels]:
        """(bids, asks) of the book, best first."""
        book: Depth = await self.actor.query(GetDepth(symbol=symbol, limit=limit))
        return list(book.bids), list(book.asks)

    async def open_orders(self, symbol: str) -> list[Resting]:
        """The bot's open orders in a market."""
        views: tuple[OrderView, ...] = await self.actor.query(GetOpenOrders(account_id=self.account_id, symbol=symbol))
        return [
            Resting(v.spec.id, v.spec.side, v.spec.price, v.spec.quantity - v.executed)
            for v in views
            if v.spec.price is not None and v.spec.quantity is not None
        ]

    async def balances(self) -> dict[str, int]:
        """Available atoms per asset."""
        holdings: tuple[Holding, ...] = await self.actor.query(GetBalances(account_id=self.account_id))
        return {h.asset: h.available for h in holdings}

    async def place(self, orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Submit every order at once, so they land in one batch, in order."""
        return list(await asyncio.gather(*(self._place(order) for order in orders)))

    async def _place(self, order: OrderRequest) -> Outcome:
        events = await self.actor.submit(
            PlaceOrder(
                account_id=self.account_id,
                symbol=order.symbol,
                side=order.side,
                order_type=order.order_type,
                price=order.price,
                quantity=order.quantity,
                quote_quantity=order.quote_quantity,
                time_in_force=order.time_in_force,
                post_only=order.post_only,
                ts=_now_us(),
            )
        )
        first = events[0]
        if isinstance(first, Rejected):
            return Refused(first.reason.value, first.message)
        accepted = next(e for e in events if isinstance(e, OrderAccepted))
        return Placed(accepted.order.id)

    async def replace(self, symbol: str, cancel: Sequence[int], orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Submit the cancels, then the orders, all at once: they land in one engine batch, in that order."""
        cancels = [
            self.actor.submit(CancelOrder(account_id=self.account_id, symbol=symbol, order_id=order_id, ts=_now_us()))
            for order_id in cancel
        ]
        results = await asyncio.gather(*cancels, *(self._place(order) for order in orders))
        return [outcome for outcome in results[len(cancels) :] if isinstance(outcome, Placed | Refused)]

    async def deposit(self, asset: str, atoms: int) -> None:
        """Credit the account directly through the engine (a fresh transfer id each time)."""
        transfer_id = f"bot:{self.account_id}:{uuid.uuid4()}"
        await self.actor.submit(
            Deposit(account_id=self.account_id, asset=asset, amount=atoms, transfer_id=transfer_id, ts=_now_us())
        )


class ApiRequestError(ExchangeError):
    """The server answered a bot's request with an error that is not a refusal of an order."""


class RestClient:
    """A `Client` over Backpack's signed REST API (plus the project's faucet route)."""

    def __init__(self, http: httpx.AsyncClient, key: KeyPair) -> None:
        self.http = http
        self.key = key
        self._markets: dict[str, Market] = {}

    async def sign_up(self) -> None:
        """Open an account for the key (open sign-up); a key that is already registered is fine."""
        params = requests.AccountRequest(public_key=self.key.public_key).params()
        response = await self.http.post(
            ACCOUNT_CREATE.path, json=params, headers=self.key.headers(ACCOUNT_CREATE.instruction, [params])
        )
        if response.status_code != 200 and "already registered" not in response.text:
            raise ApiRequestError(f"sign-up failed: {response.status_code} {response.text}")

    async def _signed(self, endpoint: Endpoint, params: Any) -> Any:
        return _json(await self._request(endpoint, params))

    async def _request(self, endpoint: Endpoint, params: Any) -> httpx.Response:
        batch = params if isinstance(params, list) else [params]
        headers = self.key.headers(endpoint.instruction, batch)
        if endpoint.method == "GET":
            return await self.http.get(endpoint.path, params=params, headers=headers)
        return await self.http.request(endpoint.method, endpoint.path, json=params, headers=headers)

    async def markets(self) -> dict[str, Market]:
        """Markets from `/api/v1/markets`, with their assets from `/api/v1/assets`."""
        assets = client.assets_of(_json(await self.http.get(endpoints.ASSETS.path)))
        self._markets = {
            item["symbol"]: client.market_of(item, assets)
            for item in _json(await self.http.get(endpoints.MARKETS.path))
        }
        return self._markets

    async def _market(self, symbol: str) -> Market:
        if symbol not in self._markets:
            await self.markets()
        return self._markets[symbol]

    async def depth(self, symbol: str, limit: int) -> tuple[Levels, Levels]:
        """(bids, asks) best first, at least `limit` levels each; the wire sends both ascending."""
        market = await self._market(symbol)
        allowed = next((n for n in DEPTH_LIMITS if n >= limit), DEPTH_LIMITS[-1])
        wanted = requests.DepthQuery(symbol=symbol, limit=allowed).params()
        body = _json(await self.http.get(endpoints.DEPTH.path, params=wanted))
        return client.depth_of(market, body)

    async def open_orders(self, symbol: str) -> list[Resting]:
        """The key's open orders in a market (`orderQueryAll`)."""
        market = await self._market(symbol)
        rows = await self._signed(endpoints.ORDERS_QUERY, requests.OrdersQuery(symbol=symbol).params())
        return [
            Resting(*client.resting_of(row, market))
            for row in rows
            if row.get("price") is not None and row.get("quantity") is not None
        ]

    async def balances(self) -> dict[str, int]:
        """Available atoms per asset (`balanceQuery`)."""
        await self._market_assets()
        body = await self._signed(endpoints.BALANCES, {})
        return client.available_of(body, self._assets())

    async def _market_assets(self) -> None:
        if not self._markets:
            await self.markets()

    def _assets(self) -> dict[str, Asset]:
        assets: dict[str, Asset] = {}
        for market in self._markets.values():
            assets[market.base.symbol] = market.base
            assets[market.quote.symbol] = market.quote
        return assets

    async def place(self, orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Place orders through `orderExecute` batches, as many per request as the endpoint takes."""
        outcomes: list[Outcome] = []
        for start in range(0, len(orders), ORDERS_EXECUTE.batch):
            chunk = orders[start : start + ORDERS_EXECUTE.batch]
            batch = [client.order_params(await self._market(order.symbol), order) for order in chunk]
            for item in await self._signed(ORDERS_EXECUTE, batch):
                error = client.error_of(item)
                outcomes.append(Placed(int(item["id"])) if error is None else Refused(*error))
        return outcomes

    async def replace(self, symbol: str, cancel: Sequence[int], orders: Sequence[OrderRequest]) -> list[Outcome]:
        """Cancel each order (`orderCancel`; one already gone, 404, is ignored), then place the orders."""

        async def one(order_id: int) -> None:
            params = requests.OrderRef(symbol=symbol, order_id=order_id).params()
            response = await self._request(endpoints.ORDER_CANCEL, params)
            if response.status_code != 404:
                _json(response)

        await asyncio.gather(*(one(order_id) for order_id in cancel))
        return await self.place(orders) if orders else []

    async def deposit(self, asset: str, atoms: int) -> None:
        """The faucet: `POST /exchange/v1/capital/deposit` (open in demo mode)."""
        await self._market_assets()
        transfer = requests.DepositRequest(symbol=asset, quantity=self._assets()[asset].amount(atoms))
        await self._signed(endpoints.DEPOSIT, transfer.params())


def _json(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise ApiRequestError(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()
