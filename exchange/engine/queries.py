"""Named queries: every read of the engine, as data, and the plain records that answer them.

Outside `exchange/engine`, nothing reads the engine's dictionaries: a caller asks the
engine actor a `Query` record (`actor.query(GetDepth(symbol="SOL_USDC", limit=5))`) and
gets back records and tuples built here, never a live `Order` or `Book`. Queries, like
commands, are plain data with one codec (`exchange.engine.codec`), so the same request
can travel through the in-process inbox or over a network transport. `Engine.answer`
answers each with a pure method.
"""

from __future__ import annotations

from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderSpec, OrderStatus
from exchange.engine.records import record

Level = tuple[int, int]
"""(price in ticks, total quantity in steps)."""


# -- answers ------------------------------------------------------------------------


@record
class MarketState:
    """A listed market with its depth sequence, halt flag and last trade price (ticks; None before any trade)."""

    market: Market
    sequence: int
    halted: bool
    last_price: int | None = None


@record
class Listings:
    """Every listed asset and market, by symbol order."""

    assets: tuple[Asset, ...]
    markets: tuple[MarketState, ...]


@record
class Depth:
    """The best levels of one book, best first, at depth sequence `sequence`."""

    symbol: str
    sequence: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@record
class Holding:
    """An account's atoms of one asset."""

    asset: str
    available: int
    locked: int


@record
class OrderView:
    """An order's terms and progress at one moment, in engine units."""

    spec: OrderSpec
    status: OrderStatus
    executed: int
    executed_quote: int


# -- queries ------------------------------------------------------------------------


@record
class GetListings:
    """-> `Listings`."""


@record
class GetDepth:
    """-> `Depth` of one market (UNKNOWN symbol: `KeyError`)."""

    symbol: str
    limit: int


@record
class GetBooks:
    """-> `(Listings, tuple[Depth, ...])` at one committed point: what a market-data feed seeds from."""

    limit: int


@record
class GetBalances:
    """-> `tuple[Holding, ...]` of every asset the account ever held."""

    account_id: int


@record
class GetOpenOrders:
    """-> `tuple[OrderView, ...]` of the account's open orders, oldest first, optionally in one market."""

    account_id: int
    symbol: str | None = None


@record
class GetOrder:
    """-> `OrderView | None`: the account's open order in `symbol`, by `order_id` or else `client_id`."""

    account_id: int
    symbol: str
    order_id: int | None = None
    client_id: int | None = None


@record
class GetDigest:
    """-> `str`: the hash of the whole state (`state.digest`), equal for equal states however reached."""


Query = GetListings | GetDepth | GetBooks | GetBalances | GetOpenOrders | GetOrder | GetDigest
