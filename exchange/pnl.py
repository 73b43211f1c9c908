"""Profit and loss, stated once: an account's realized and unrealized PnL in one market.

Pure and synchronous, in integer atoms: base atoms for the position, quote atoms for
money. The route (`exchange.api.own.profit_and_loss`) reads the account's fills of a market in
trade id order and the market's last trade price, and folds them here.

The cost rule: average cost in quote, fees included. The position is the base the
account bought in this market, net of what it sold; its cost is what it paid for it.
- A buy of `base` atoms for `quote` atoms, paying a fee of `fee` base atoms, adds
  `base - fee` to the position and `quote` to the cost (the fee raises the average cost).
- A sell of `base` atoms for `quote` atoms, paying a fee of `fee` quote atoms, takes
  its share of the cost off the position, `cost * base / position`, and realizes
  `quote - fee` minus that share.
- Spot cannot go short: base sold beyond the position (base that came from deposits,
  which has no cost here) is outside PnL: only the covered part of a sell counts, with
  its share `covered / base` of the proceeds.

Rounding, the one rule: every proportional share (a sold part's cost, a covered part's
proceeds, the position's value at the last price) is rounded down to the quote atom.
The cost that rounding leaves behind stays in the position, so once a position is
closed the realized PnL is exactly what was received minus what was paid, to the atom.

Unrealized PnL is the position's value at the market's last trade price minus its
cost; a market that has not traded has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from exchange.engine.numbers import Market


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One fill of the account, in atoms: `fee` is base atoms for a buy, quote atoms for a sell."""

    buy: bool
    base: int
    quote: int
    fee: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pnl:
    """An account's position in a market (base atoms), its cost and PnL (quote atoms)."""

    position: int
    cost: int
    realized: int
    unrealized: int | None


def fold(fills: Iterable[Fill], market: Market, last_price: int | None) -> Pnl:
    """Fold fills (in trade id order) by the average-cost rule; `last_price` in ticks (None: no trade yet)."""
    position = cost = realized = 0
    for fill in fills:
        if fill.buy:
            position += fill.base - fill.fee
            cost += fill.quote
            continue
        covered = min(fill.base, position)
        if not covered:
            continue
        share = cost * covered // position
        realized += (fill.quote - fill.fee) * covered // fill.base - share
        cost -= share
        position -= covered
    unrealized = None if last_price is None else value(market, last_price, position) - cost
    return Pnl(position=position, cost=cost, realized=realized, unrealized=unrealized)


def value(market: Market, price: int, atoms: int) -> int:
    """Quote atoms that `atoms` of base are worth at `price` ticks, rounded down."""
    return price * atoms * market.quote_atoms_per_tick_step // market.base_atoms_per_step
