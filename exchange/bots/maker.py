"""The market maker: a ladder of post-only quotes per market, re-quoted every step.

Each step, per market: read the book and the maker's own open orders; work out the
best bid and ask of everyone else; move the reference price one random-walk step
(kept inside others' market, pulled gently back to where it started); build the
wanted ladder (`quoting.ladder`: exactly `levels` quotes a side, never crossing
itself or anyone else); cancel every resting order that is not a wanted quote, then
place the missing ones (`Client.replace`). Quotes are post-only, so a book that moved between the read
and the placement rejects a quote instead of letting the maker take; the rejection
is simply retried on the next step. With the faucet (demo mode) the maker tops up
whatever a placement needs before placing; without it, an underfunded quote is
refused and the ladder is as deep as the account can pay for.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from decimal import Decimal

from exchange.bots.client import Client, OrderRequest, Outcome, Refused
from exchange.bots.loop import top_up
from exchange.bots.quoting import Quote, ladder, outside_best, requote, shape_for, walk
from exchange.demo import LEVEL_VALUE
from exchange.engine.numbers import Market
from exchange.engine.orders import Side

log = logging.getLogger(__name__)


class MarketMaker:
    """Keeps `levels` bids and asks in each of `markets` around a random-walk reference price."""

    def __init__(
        self,
        client: Client,
        markets: Mapping[str, Market],
        references: Mapping[str, int],
        *,
        rng: random.Random,
        levels: int = 10,
        spread_bps: int = 5,
        volatility_bps: int = 8,
        level_value: Decimal = LEVEL_VALUE,
        faucet: bool = False,
    ) -> None:
        self.client = client
        self.markets = {symbol: markets[symbol] for symbol in references}
        self.anchors = dict(references)
        self.references = dict(references)
        self.rng = rng
        self.levels = levels
        self.spread_bps = spread_bps
        self.volatility_bps = volatility_bps
        self.level_value = level_value
        self.faucet = faucet

    async def step(self) -> None:
        """Re-quote every market; raise the first failure after all markets had their turn."""
        results = await asyncio.gather(*(self.quote(symbol) for symbol in self.markets), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def quote(self, symbol: str) -> list[Outcome]:
        """One re-quote of one market; returns the outcomes of the placements."""
        market = self.markets[symbol]
        bids, asks = await self.client.depth(symbol, 2 * self.levels + 20)
        mine = await self.client.open_orders(symbol)
        outside_bid, outside_ask = outside_best(bids, asks, mine)
        reference = walk(
            self.rng,
            self.references[symbol],
            self.anchors[symbol],
            volatility_bps=self.volatility_bps,
            outside_bid=outside_bid,
            outside_ask=outside_ask,
        )
        self.references[symbol] = reference
        shape = shape_for(
            market,
            reference,
            levels=self.levels,
            spread_bps=self.spread_bps,
            quote_atoms=market.quote.atoms(self.level_value),
        )
        wanted = ladder(reference, shape, outside_bid=outside_bid, outside_ask=outside_ask)
        cancel, place = requote(mine, wanted)
        if not cancel and not place:
            return []
        if self.faucet and place:
            await top_up(self.client, needs(market, place), multiple=20)
        orders = [
            OrderRequest(symbol=symbol, side=q.side, price=q.price, quantity=q.quantity, post_only=True) for q in place
        ]
        outcomes = await self.client.replace(symbol, cancel, orders)
        refused = [o for o in outcomes if isinstance(o, Refused)]
        if refused:
            log.debug("%s: %d of %d quotes refused, first: %s", symbol, len(refused), len(place), refused[0])
        return outcomes


def needs(market: Market, quotes: list[Quote]) -> dict[str, int]:
    """Atoms of quote (for bids) and base (for asks) that resting `quotes` lock."""
    quote_atoms = sum(market.notional(q.price, q.quantity) for q in quotes if q.side is Side.BID)
    base_atoms = sum(q.quantity * market.base_atoms_per_step for q in quotes if q.side is Side.ASK)
    return {market.quote.symbol: quote_atoms, market.base.symbol: base_atoms}
