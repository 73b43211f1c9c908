"""The collector policy: survivors of a full collection are frozen, and a sweep still frees frozen cycles."""

from __future__ import annotations

import asyncio
import gc
import weakref

from exchange.collector import freezing_survivors, sweep


class Node:
    """An object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A two-node cycle no longer referenced from outside; a weak reference to one node."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_survivors_of_a_full_collection_are_frozen_and_a_sweep_frees_their_cycles() -> None:
    async def run() -> None:
        callbacks = list(gc.callbacks)
        async with freezing_survivors(sweep_seconds=3600):
            kept = Node()
            gc.collect()
            assert gc.get_count()[2] == 0
            frozen = gc.get_freeze_count()
            assert frozen > 0 and not any(o is kept for o in gc.get_objects())
            a, b = Node(), Node()
            a.other, b.other = b, a
            gc.collect()
            survivor = weakref.ref(a)
            del a, b
            gc.collect()
            assert survivor() is not None
            assert sweep() >= 2 and survivor() is None
            young = cycle()
            gc.collect()
            assert young() is None
        assert gc.callbacks == callbacks
        gc.unfreeze()

    asyncio.run(run())
