"""What both bots share: a step loop that outlives errors, and topping up from the faucet.

A bot is a `step()` coroutine run every `interval` seconds until its stop event is
set. A step that raises (engine briefly unavailable, HTTP 503/429, a lost connection)
is logged and retried after a backoff that doubles up to 30 seconds and resets on the
next success; a bot never dies of a transient failure, and never hammers a server
that is struggling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from exchange.bots.client import Client

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


async def run_steps(name: str, step: Callable[[], Awaitable[None]], interval: float, stop: asyncio.Event) -> None:
    """Call `step` every `interval` seconds until `stop` is set, backing off after failures."""
    backoff = interval
    while not stop.is_set():
        delay = interval
        try:
            await step()
            backoff = interval
        except Exception as error:
            log.warning("%s: step failed (%s); retrying in %.1fs", name, error, backoff)
            delay = backoff
            backoff = min(backoff * 2, MAX_BACKOFF)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


async def top_up(client: Client, needs: Mapping[str, int], *, multiple: int) -> None:
    """Deposit `multiple` times the need of every asset whose available balance is below its need."""
    if not any(needs.values()):
        return
    available = await client.balances()
    for asset, need in needs.items():
        if need and available.get(asset, 0) < need:
            await client.deposit(asset, need * multiple)
