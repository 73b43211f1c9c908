"""The taker: now and then a market order or a marketable limit order, so trades happen.

Each step picks a market and a side at random, looks at the best opposite price and
sends either a market order (a buy sized by what it spends, a sell by what it sells)
or an immediate-or-cancel limit order a few ticks through the best price, worth a
random amount between `min_value` and `max_value` of quote. It never rests, so it
never quotes; against the market maker it makes trades, tickers and klines move.
With the faucet (demo mode) it tops up before each order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal

from exchange.bots.client import Client, OrderRequest, Outcome
from exchange.bots.loop import top_up
from exchange.bots.quoting import size_for_notional
from exchange.engine.numbers import Market
from exchange.engine.orders import OrderType, Side, TimeInForce


class Taker:
    """Sends occasional orders that take liquidity in `markets`."""

    def __init__(
        self,
        client: Client,
        markets: Mapping[str, Market],
        *,
        rng: random.Random,
        min_value: Decimal = Decimal(20),
        max_value: Decimal = Decimal(300),
        faucet: bool = False,
    ) -> None:
        self.client = client
        self.markets = dict(markets)
        self.rng = rng
        self.min_value = min_value
        self.max_value = max_value
        self.faucet = faucet

    async def step(self) -> None:
        """Send one taking order (nothing when the chosen side of the book is empty)."""
        await self.take(self.rng.choice(sorted(self.markets)))

    async def take(self, symbol: str) -> Outcome | None:
        """One taking order in `symbol`; returns its outcome, or None when there is nothing to take."""
        market = self.markets[symbol]
        side = Side.BID if self.rng.randrange(2) else Side.ASK
        bids, asks = await self.client.depth(symbol, 1)
        opposite = asks if side is Side.BID else bids
        if not opposite:
            return None
        best = opposite[0][0]
        value = self.rng.randint(market.quote.atoms(self.min_value), market.quote.atoms(self.max_value))
        quantity = size_for_notional(market, best, value)
        if self.rng.randrange(2):
            order = OrderRequest(
                symbol=symbol,
                side=side,
                order_type=OrderType.MARKET,
                quantity=None if side is Side.BID else quantity,
                quote_quantity=value if side is Side.BID else None,
            )
            spend = value
        else:
            through = self.rng.randint(0, 3)
            price = best + through if side is Side.BID else max(1, best - through)
            order = OrderRequest(
                symbol=symbol, side=side, price=price, quantity=quantity, time_in_force=TimeInForce.IOC
            )
            spend = market.notional(price, quantity)
        if self.faucet:
            need = (
                {market.quote.symbol: spend}
                if side is Side.BID
                else {market.base.symbol: quantity * market.base_atoms_per_step}
            )
            await top_up(self.client, need, multiple=50)
        (outcome,) = await self.client.place([order])
        return outcome
