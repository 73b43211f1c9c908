"""One market's order book: resting limit orders in price-time priority.

Each side maps a price (ticks) to a `Level`, an insertion-ordered dict of orders (so
the first order in it is the oldest) and the level's total remaining steps. Bids are
best at the highest price, asks at the lowest. The book never holds an empty level,
and it is never crossed: the engine matches an incoming order before resting it.

`last_price` is the price of the market's latest trade (None before the first): the
reference of the market's price band (`Market.band`).

The book remembers which levels changed since the last `depth_change`, so that the
engine reports one depth diff per command, stamped with the next depth sequence.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sortedcontainers import SortedDict

from exchange.engine.events import DepthChanged
from exchange.engine.numbers import Market
from exchange.engine.orders import Order, Side


class Level:
    """The orders resting at one price, oldest first, and their total remaining steps."""

    __slots__ = ("orders", "total")

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.total = 0


class Book:
    """The two sides of one market, its depth sequence, whether it is halted and its last trade price."""

    __slots__ = ("market", "bids", "asks", "sequence", "halted", "last_price", "_changed_bids", "_changed_asks")

    def __init__(self, market: Market, sequence: int = 0, halted: bool = False, last_price: int | None = None) -> None:
        self.market = market
        self.last_price = last_price
        self.bids: SortedDict[int, Level] = SortedDict()
        self.asks: SortedDict[int, Level] = SortedDict()
        self.sequence = sequence
        self.halted = halted
        self._changed_bids: set[int] = set()
        self._changed_asks: set[int] = set()

    def side(self, side: Side) -> SortedDict[int, Level]:
        """The levels of one side."""
        return self.bids if side is Side.BID else self.asks

    def best_bid(self) -> int | None:
        """The highest bid price, if any."""
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        """The lowest ask price, if any."""
        return self.asks.peekitem(0)[0] if self.asks else None

    def crosses(self, side: Side, price: int | None) -> bool:
        """Whether an incoming order on `side` limited at `price` (None: market) would take."""
        if side is Side.BID:
            best = self.best_ask()
            return best is not None and (price is None or best <= price)
        best = self.best_bid()
        return best is not None and (price is None or best >= price)

    def makers_for(self, side: Side, price: int | None) -> Iterator[tuple[int, Level]]:
        """Opposite levels an incoming order on `side` limited at `price` may take, best first."""
        if side is Side.BID:
            levels, prices = self.asks, self.asks.irange(maximum=price)
        else:
            levels, prices = self.bids, self.bids.irange(minimum=price, reverse=True)
        return ((p, levels[p]) for p in prices)

    def add(self, order: Order) -> None:
        """Rest `order` at the back of its price level."""
        spec = order.spec
        assert spec.price is not None and order.remaining > 0
        levels = self.side(spec.side)
        level = levels.get(spec.price)
        if level is None:
            level = levels[spec.price] = Level()
        level.orders[spec.id] = order
        level.total += order.remaining
        self._changed(spec.side).add(spec.price)

    def filled(self, order: Order, steps: int) -> None:
        """Account for `steps` just filled from a resting order; drop it if it is done."""
        spec = order.spec
        assert spec.price is not None
        levels = self.side(spec.side)
        level = levels[spec.price]
        level.total -= steps
        if order.remaining == 0:
            del level.orders[spec.id]
            if not level.orders:
                del levels[spec.price]
        self._changed(spec.side).add(spec.price)

    def remove(self, order: Order) -> None:
        """Take a resting order off the book with all its remaining steps."""
        spec = order.spec
        assert spec.price is not None
        levels = self.side(spec.side)
        level = levels[spec.price]
        level.total -= order.remaining
        del level.orders[spec.id]
        if not level.orders:
            del levels[spec.price]
        self._changed(spec.side).add(spec.price)

    def _changed(self, side: Side) -> set[int]:
        return self._changed_bids if side is Side.BID else self._changed_asks

    def depth_change(self, ts: int) -> DepthChanged | None:
        """The diff of the levels changed since the last call, or None if none changed."""
        changed_bids, changed_asks = self._changed_bids, self._changed_asks
        if not (changed_bids or changed_asks):
            return None
        self.sequence += 1
        change = DepthChanged(
            symbol=self.market.symbol,
            sequence=self.sequence,
            bids=_totals(self.bids, changed_bids),
            asks=_totals(self.asks, changed_asks),
            ts=ts,
        )
        changed_bids.clear()
        changed_asks.clear()
        return change

    def discard_changes(self) -> None:
        """Forget the changed levels without reporting them (used when rebuilding a book)."""
        self._changed_bids.clear()
        self._changed_asks.clear()

    def depth(self, limit: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The best `limit` levels of each side as (price, total) pairs, best first."""
        bids = [(p, level.total) for p, level in islice(reversed(self.bids.items()), limit)]
        asks = [(p, level.total) for p, level in islice(self.asks.items(), limit)]
        return bids, asks

    def orders(self) -> Iterator[Order]:
        """Every resting order, bids then asks, each side best price first, oldest first."""
        for level in reversed(self.bids.values()):
            yield from level.orders.values()
        for level in self.asks.values():
            yield from level.orders.values()


def _totals(levels: SortedDict[int, Level], prices: set[int]) -> tuple[tuple[int, int], ...]:
    """(price, total steps) for each changed price, ascending; 0 where the level is gone."""
    if not prices:
        return ()
    if len(prices) == 1:
        (price,) = prices
        level = levels.get(price)
        return ((price, level.total if level is not None else 0),)
    get = levels.get
    return tuple([(price, level.total if (level := get(price)) is not None else 0) for price in sorted(prices)])
