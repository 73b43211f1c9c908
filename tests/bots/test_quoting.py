"""The market maker's arithmetic: exact ladders, no self-crossing, ticks and steps, the re-quote diff."""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.bots.quoting import (
    LadderShape,
    Quote,
    Resting,
    ladder,
    outside_best,
    requote,
    shape_for,
    size_for_notional,
    walk,
)
from exchange.demo import MARKETS
from exchange.engine.orders import Side

SOL_USDC = MARKETS[0]


def sides(quotes: list[Quote]) -> tuple[list[Quote], list[Quote]]:
    return [q for q in quotes if q.side is Side.BID], [q for q in quotes if q.side is Side.ASK]


def test_a_ladder_has_exactly_n_levels_a_side_at_distinct_prices_around_the_reference() -> None:
    shape = LadderShape(levels=10, half_spread=7, gap=5, size=60)
    bids, asks = sides(ladder(15_000, shape, outside_bid=None, outside_ask=None))
    assert len(bids) == len(asks) == 10
    assert [q.price for q in bids] == [14_990 - 5 * i for i in range(10)]
    assert [q.price for q in asks] == [15_010 + 5 * i for i in range(10)]
    assert all(q.quantity >= 60 for q in bids + asks)


def test_a_small_move_of_the_reference_requotes_only_the_edges() -> None:
    shape = LadderShape(levels=10, half_spread=7, gap=5, size=60)
    before = ladder(15_000, shape, outside_bid=None, outside_ask=None)
    resting = [Resting(i, q.side, q.price, q.quantity) for i, q in enumerate(before)]
    assert requote(resting, ladder(15_001, shape, outside_bid=None, outside_ask=None)) == ([], [])
    cancel, place = requote(resting, ladder(15_006, shape, outside_bid=None, outside_ask=None))
    assert len(cancel) == len(place) == 2


@settings(max_examples=200)
@given(
    reference=st.integers(2, 10**9),
    levels=st.integers(1, 30),
    half_spread=st.integers(1, 1000),
    gap=st.integers(1, 1000),
    size=st.integers(1, 10**6),
    outside=st.one_of(st.none(), st.tuples(st.integers(1, 10**9), st.integers(1, 10**6))),
)
def test_a_ladder_never_crosses_itself_nor_the_outside_market(
    reference: int, levels: int, half_spread: int, gap: int, size: int, outside: tuple[int, int] | None
) -> None:
    outside_bid, outside_ask = (None, None) if outside is None else (outside[0], outside[0] + outside[1])
    shape = LadderShape(levels=levels, half_spread=half_spread, gap=gap, size=size)
    bids, asks = sides(ladder(reference, shape, outside_bid=outside_bid, outside_ask=outside_ask))
    assert len(asks) == levels and len(bids) <= levels
    assert len({q.price for q in bids}) == len(bids) and len({q.price for q in asks}) == len(asks)
    if bids:
        assert max(q.price for q in bids) < min(q.price for q in asks)
        assert min(q.price for q in bids) >= 1
        if outside_ask is not None:
            assert max(q.price for q in bids) < outside_ask
    if outside_bid is not None:
        assert min(q.price for q in asks) > outside_bid
    assert all(type(q.price) is int and type(q.quantity) is int and q.quantity >= size for q in bids + asks)


def test_the_shape_is_on_the_tick_and_step_and_at_least_the_minimum_size() -> None:
    for market in MARKETS:
        reference = market.ticks(market.tick_size * 10_000)
        shape = shape_for(market, reference, levels=5, spread_bps=5, quote_atoms=market.quote.atoms(Decimal(100)))
        for quote in ladder(reference, shape, outside_bid=None, outside_ask=None):
            assert market.ticks(market.price(quote.price)) == quote.price
            assert market.steps(market.quantity(quote.quantity)) == quote.quantity
            assert quote.quantity >= market.min_steps
    assert size_for_notional(SOL_USDC, 15_000, 1) == SOL_USDC.min_steps


def test_requote_keeps_exact_quotes_cancels_the_rest_and_places_what_is_missing() -> None:
    wanted = [Quote(Side.BID, 99, 10), Quote(Side.BID, 98, 10), Quote(Side.ASK, 101, 10), Quote(Side.ASK, 102, 10)]
    resting = [
        Resting(1, Side.BID, 99, 10),  # wanted: kept
        Resting(2, Side.BID, 98, 4),  # partly filled: replaced
        Resting(3, Side.ASK, 101, 10),  # kept
        Resting(4, Side.ASK, 101, 10),  # a duplicate: cancelled
        Resting(5, Side.ASK, 150, 10),  # off the ladder: cancelled
    ]
    cancel, place = requote(resting, wanted)
    assert cancel == [2, 4, 5]
    assert place == [Quote(Side.BID, 98, 10), Quote(Side.ASK, 102, 10)]
    assert requote([], wanted) == ([], wanted)
    assert requote([Resting(1, Side.BID, 99, 10)], []) == ([1], [])


def test_outside_best_ignores_the_makers_own_quantity() -> None:
    mine = [Resting(1, Side.BID, 99, 10), Resting(2, Side.ASK, 101, 10)]
    assert outside_best([(99, 10), (98, 5)], [(101, 10), (103, 1)], mine) == (98, 103)
    assert outside_best([(99, 12)], [(101, 10)], mine) == (99, None)
    assert outside_best([], [], []) == (None, None)


def test_the_walk_stays_inside_the_outside_market_and_drifts_back_to_its_anchor() -> None:
    rng = random.Random(1)
    assert walk(rng, 10_000, 10_000, volatility_bps=50, outside_bid=None, outside_ask=9_000) <= 9_000
    assert walk(rng, 10_000, 10_000, volatility_bps=50, outside_bid=11_000, outside_ask=None) >= 11_000
    reference = 20_000
    for _ in range(2_000):
        reference = walk(rng, reference, 10_000, volatility_bps=5, outside_bid=None, outside_ask=None)
    assert 8_000 < reference < 12_000
