"""The in-memory bus: ordered delivery, filters, and disconnecting a slow subscriber."""

from __future__ import annotations

import asyncio

import pytest

from exchange.engine.events import BalanceChanged, Event, MarketHaltChanged
from exchange.streams.bus import InMemoryBus, SubscriptionClosed, SubscriptionOverflow

pytestmark = pytest.mark.anyio


def halt(symbol: str, ts: int) -> MarketHaltChanged:
    return MarketHaltChanged(symbol=symbol, halted=True, ts=ts)


def balance(ts: int) -> BalanceChanged:
    return BalanceChanged(account_id=1, asset="USDC", available=ts, locked=0, ts=ts)


async def test_every_subscriber_gets_every_event_in_publish_order() -> None:
    bus = InMemoryBus()
    first, second = bus.subscribe(), bus.subscribe()
    bus.publish([halt("A", 1), balance(2)])
    bus.publish([halt("B", 3)])
    for subscription in (first, second):
        assert await subscription.next() == [halt("A", 1), balance(2), halt("B", 3)]


async def test_next_waits_for_a_publish() -> None:
    bus = InMemoryBus()
    subscription = bus.subscribe()
    waiting = asyncio.create_task(subscription.next())
    await asyncio.sleep(0)
    assert not waiting.done()
    bus.publish([balance(1)])
    assert await waiting == [balance(1)]


async def test_filter_admits_only_what_the_subscriber_asked_for() -> None:
    bus = InMemoryBus()

    def market_a(event: Event) -> bool:
        return isinstance(event, MarketHaltChanged) and event.symbol == "A"

    subscription = bus.subscribe(market_a)
    bus.publish([halt("B", 1), halt("A", 2), balance(3)])
    assert await subscription.next() == [halt("A", 2)]


async def test_slow_subscriber_is_disconnected_after_what_it_buffered() -> None:
    bus = InMemoryBus()
    slow, fast = bus.subscribe(maxsize=2), bus.subscribe()
    bus.publish([balance(1), balance(2), balance(3)])
    bus.publish([balance(4)])
    assert slow.overflowed and bus.subscriber_count == 1
    assert await slow.next() == [balance(1), balance(2)]
    with pytest.raises(SubscriptionOverflow):
        await slow.next()
    assert await fast.next() == [balance(ts) for ts in (1, 2, 3, 4)]


async def test_close_unsubscribes_and_wakes_a_waiting_reader() -> None:
    bus = InMemoryBus()
    subscription = bus.subscribe()
    waiting = asyncio.create_task(subscription.next())
    await asyncio.sleep(0)
    subscription.close()
    with pytest.raises(SubscriptionClosed):
        await waiting
    assert bus.subscriber_count == 0
    bus.publish([balance(1)])
