"""The event bus: committed engine events, fanned out to in-process consumers.

The engine actor calls `publish(events)` once per committed batch, with the batch's
events in order. Consumers (the websocket fan-out, the ticker and kline aggregators)
each hold a `Subscription`: a bounded buffer of the events they asked for, in publish
order, that they drain at their own pace.

Invariant: `publish` never blocks and never waits for a consumer; it only appends to
buffers. A subscriber whose buffer is full is disconnected: the bus drops it and its
`next()` raises `SubscriptionOverflow` once it has consumed what was buffered before
the overflow, so the consumer knows exactly where its stream broke (a websocket
closes the client's connection, which re-subscribes and re-reads a snapshot; an
aggregator reloads from the database). Nothing is ever silently skipped in the middle
of a stream. Consumers that must not fall behind pass a larger `maxsize`.

`Bus` and `Subscription` are Protocols. A gateway (`exchange serve --role gateway`) feeds
its own `InMemoryBus` from the engine's event stream in Redis
(`exchange.transport.redis.EventRelay`); a gap in that stream `interrupt`s every
subscription the same way as an overflow, and the consumer resyncs from a snapshot.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from exchange.engine.errors import ExchangeError
from exchange.engine.events import Event

EventFilter = Callable[[Event], bool]


class SubscriptionOverflow(ExchangeError):
    """The subscriber fell more than its buffer behind and was disconnected."""


class SubscriptionClosed(ExchangeError):
    """The subscription was closed by its owner."""


class Subscription(Protocol):
    """One consumer's ordered stream of published events."""

    async def next(self) -> list[Event]:
        """Wait for events and return every one buffered, oldest first (at least one)."""
        ...

    def close(self) -> None:
        """Stop receiving events."""
        ...


class Bus(Protocol):
    """Where the engine actor publishes committed events and consumers subscribe."""

    def publish(self, events: Sequence[Event]) -> None:
        """Hand committed events to every subscriber without blocking."""
        ...

    def subscribe(self, accept: EventFilter | None = None, *, maxsize: int = 10_000) -> Subscription:
        """Start receiving the events `accept` admits (all if None), buffering at most `maxsize`."""
        ...


class InMemorySubscription:
    """A bounded buffer of events owned by one consumer of an `InMemoryBus`."""

    def __init__(self, bus: InMemoryBus, accept: EventFilter | None, maxsize: int) -> None:
        self._bus = bus
        self._accept = accept
        self._maxsize = maxsize
        self._buffer: deque[Event] = deque()
        self._end: Exception | None = None
        self._woken = asyncio.Event()

    @property
    def overflowed(self) -> bool:
        """True once the bus has disconnected this subscriber for falling behind."""
        return isinstance(self._end, SubscriptionOverflow)

    def offer(self, events: Sequence[Event]) -> None:
        """Buffer the accepted events; on overflow, end the stream (called by the bus)."""
        for event in events:
            if self._accept is not None and not self._accept(event):
                continue
            if len(self._buffer) >= self._maxsize:
                self.end(SubscriptionOverflow(f"subscriber fell {self._maxsize} events behind"))
                return
            self._buffer.append(event)
        self._woken.set()

    async def next(self) -> list[Event]:
        """Wait for events and return every one buffered, oldest first (at least one)."""
        while not self._buffer:
            if self._end is not None:
                raise self._end
            self._woken.clear()
            await self._woken.wait()
        events = list(self._buffer)
        self._buffer.clear()
        return events

    def close(self) -> None:
        """Stop receiving events; a pending `next()` raises SubscriptionClosed."""
        self.end(SubscriptionClosed("subscription closed"))

    def end(self, end: Exception) -> None:
        """End the stream: `next()` raises `end` once what is buffered is consumed."""
        if self._end is None:
            self._end = end
        self._bus.unsubscribe(self)
        self._woken.set()


class InMemoryBus:
    """The in-process `Bus`: publish appends to each subscriber's buffer."""

    def __init__(self) -> None:
        self._subscriptions: set[InMemorySubscription] = set()

    def publish(self, events: Sequence[Event]) -> None:
        """Hand committed events to every subscriber without blocking."""
        for subscription in list(self._subscriptions):
            subscription.offer(events)

    def subscribe(self, accept: EventFilter | None = None, *, maxsize: int = 10_000) -> InMemorySubscription:
        """Start receiving the events `accept` admits (all if None), buffering at most `maxsize`."""
        subscription = InMemorySubscription(self, accept, maxsize)
        self._subscriptions.add(subscription)
        return subscription

    def interrupt(self) -> None:
        """End every subscription with `SubscriptionOverflow`: the stream they were fed has a gap."""
        for subscription in list(self._subscriptions):
            subscription.end(SubscriptionOverflow("the event stream has a gap"))

    def unsubscribe(self, subscription: InMemorySubscription) -> None:
        """Forget a subscription (idempotent)."""
        self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are live."""
        return len(self._subscriptions)
