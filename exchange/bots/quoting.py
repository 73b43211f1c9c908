"""The market maker's arithmetic: pure functions of integers (ticks, steps, atoms).

A ladder is `levels` bids below and `levels` asks above a reference price, the top
quotes at least `half_spread` ticks from it and `gap` ticks between levels, sizes
varying between levels. Prices sit on a grid of multiples of `gap`, so when the
reference moves a little most quotes stay where they are and only the levels at the
edges change (a re-quote is a few orders, not the whole ladder). It never crosses
itself: the top bid is at most `reference - half_spread` and the top ask at least
`reference + half_spread`, with `half_spread >= 1`. It never
crosses anyone else either: given the best bid and ask of *other* traders, bids stay
below their ask and asks above their bid (the ladder moves out of the way instead of
taking).

Re-quoting is a diff: resting orders that are exactly a wanted quote (same side,
price and remaining size) stay; every other resting order is cancelled, and the
wanted quotes not resting are placed. Cancels go first, and the quotes that stay are
a subset of the new ladder, so at no moment does the maker's own book cross
(`Client.replace` sends both, and in-process they land in one engine batch, so no
reader ever sees the ladder half rebuilt).

Everything here is deterministic given its inputs (the random walk takes its
`random.Random`), which is what the unit tests lean on.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exchange.engine.numbers import BPS, Market
from exchange.engine.orders import Side

Levels = Sequence[tuple[int, int]]
"""Book levels as (price ticks, quantity steps), best first."""


@dataclass(frozen=True, slots=True)
class Quote:
    """A resting limit order the maker wants: side, price (ticks), quantity (steps)."""

    side: Side
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Resting:
    """One of the maker's open orders: id, side, price (ticks), remaining quantity (steps)."""

    order_id: int
    side: Side
    price: int
    remaining: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LadderShape:
    """How a ladder looks, in ticks and steps."""

    levels: int
    half_spread: int
    gap: int
    size: int


def ticks_for_bps(reference: int, bps: int) -> int:
    """`bps` basis points of a price in ticks, at least one tick."""
    return max(1, reference * bps // BPS)


def size_for_notional(market: Market, price: int, quote_atoms: int) -> int:
    """Steps worth about `quote_atoms` at `price`, at least the market's minimum."""
    return max(market.min_steps, quote_atoms // market.notional(price, 1))


def shape_for(market: Market, reference: int, *, levels: int, spread_bps: int, quote_atoms: int) -> LadderShape:
    """A ladder `spread_bps` wide at the top, levels `spread_bps` apart, top size worth `quote_atoms`."""
    step = ticks_for_bps(reference, spread_bps)
    return LadderShape(
        levels=levels, half_spread=step, gap=step, size=size_for_notional(market, reference, quote_atoms)
    )


def ladder(reference: int, shape: LadderShape, *, outside_bid: int | None, outside_ask: int | None) -> list[Quote]:
    """The wanted quotes around `reference`, clear of others' best bid and ask (see the module docstring)."""
    assert shape.half_spread >= 1 and shape.gap >= 1
    top_bid = (reference - shape.half_spread) // shape.gap * shape.gap
    top_ask = -(-(reference + shape.half_spread) // shape.gap) * shape.gap
    if outside_ask is not None:
        top_bid = min(top_bid, outside_ask - 1)
    if outside_bid is not None:
        top_ask = max(top_ask, outside_bid + 1)
    quotes: list[Quote] = []
    for level in range(shape.levels):
        bid = top_bid - level * shape.gap
        if bid >= 1:
            quotes.append(Quote(Side.BID, bid, _size(shape, bid)))
        ask = top_ask + level * shape.gap
        quotes.append(Quote(Side.ASK, ask, _size(shape, ask)))
    return quotes


def _size(shape: LadderShape, price: int) -> int:
    """One to three times the base size, a fixed function of the price (so a kept level keeps its size)."""
    return shape.size * (1 + price // shape.gap % 3)


def requote(resting: Iterable[Resting], wanted: Sequence[Quote]) -> tuple[list[int], list[Quote]]:
    """(order ids to cancel, quotes to place) that turn `resting` into exactly `wanted`."""
    missing = Counter(wanted)
    cancel: list[int] = []
    for order in resting:
        quote = Quote(order.side, order.price, order.remaining)
        if missing[quote] > 0:
            missing[quote] -= 1
        else:
            cancel.append(order.order_id)
    place: list[Quote] = []
    for quote in wanted:
        if missing[quote] > 0:
            missing[quote] -= 1
            place.append(quote)
    return cancel, place


def outside_best(bids: Levels, asks: Levels, mine: Iterable[Resting]) -> tuple[int | None, int | None]:
    """The best bid and ask of everyone but the maker: levels holding more than its own orders."""
    own: Counter[tuple[Side, int]] = Counter()
    for order in mine:
        own[order.side, order.price] += order.remaining
    best_bid = next((price for price, total in bids if total > own[Side.BID, price]), None)
    best_ask = next((price for price, total in asks if total > own[Side.ASK, price]), None)
    return best_bid, best_ask


def walk(
    rng: random.Random,
    reference: int,
    anchor: int,
    *,
    volatility_bps: int,
    outside_bid: int | None,
    outside_ask: int | None,
) -> int:
    """The next reference: a random step, a pull of 1/50 of the way back to `anchor`, inside others' market."""
    reach = ticks_for_bps(reference, volatility_bps)
    moved = reference + rng.randint(-reach, reach) + (anchor - reference) // 50
    if outside_ask is not None:
        moved = min(moved, outside_ask)
    if outside_bid is not None:
        moved = max(moved, outside_bid)
    return max(moved, 2)
