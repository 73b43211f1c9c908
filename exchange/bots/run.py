"""Starting the bots: their accounts, where they start quoting, and their tasks.

In the server (`EXCHANGE_BOTS`, on in demo mode) the bots are two accounts of the
exchange, labelled `bot:market-maker` and `bot:taker` in the `accounts` table
(`Accounts.ensure_account`): found by label on a restart, so their balances and open
orders carry over. `running(...)` starts both loops and, on exit, stops them and waits
for the step in flight, before the composition root stops the engine actor.

A market's starting reference is the mid of its book when it has one (a restart, or
other traders), else demo mode's reference price; a market with neither is skipped
(the maker has nothing to anchor to) and logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from decimal import Decimal

from exchange.bots.client import Client, InProcessClient
from exchange.bots.loop import run_steps
from exchange.bots.maker import MarketMaker
from exchange.bots.taker import Taker
from exchange.config import Settings
from exchange.demo import REFERENCE_PRICES
from exchange.engine.actor import EngineActor
from exchange.engine.numbers import Market
from exchange.persistence.accounts import Accounts

log = logging.getLogger(__name__)

MAKER_LABEL = "bot:market-maker"
TAKER_LABEL = "bot:taker"


async def starting_references(
    client: Client, markets: Mapping[str, Market], defaults: Mapping[str, Decimal] = REFERENCE_PRICES
) -> dict[str, int]:
    """Ticks to start quoting each market at: its book's mid, else its default; unknown ones are left out."""
    references: dict[str, int] = {}
    for symbol, market in markets.items():
        bids, asks = await client.depth(symbol, 1)
        if bids and asks:
            references[symbol] = (bids[0][0] + asks[0][0]) // 2
        elif bids or asks:
            references[symbol] = (bids or asks)[0][0]
        elif symbol in defaults:
            references[symbol] = market.ticks(defaults[symbol])
        else:
            log.warning("market maker: %s has no book and no reference price; not quoting it", symbol)
    return references


def chosen(markets: Mapping[str, Market], wanted: Iterable[str]) -> dict[str, Market]:
    """The markets named in `wanted` (all of them when it is empty); unknown names are logged."""
    names = list(wanted)
    for name in names:
        if name not in markets:
            log.warning("bots: no market %s; ignoring it", name)
    return {s: m for s, m in markets.items() if not names or s in names}


async def market_maker(
    client: Client, wanted: Iterable[str], rng: random.Random, *, levels: int, faucet: bool
) -> MarketMaker:
    """A market maker for the markets named in `wanted` (all when empty), starting from their books or references."""
    markets = chosen(await client.markets(), wanted)
    return MarketMaker(
        client, markets, await starting_references(client, markets), rng=rng, levels=levels, faucet=faucet
    )


@asynccontextmanager
async def running(actor: EngineActor, accounts: Accounts, settings: Settings) -> AsyncIterator[None]:
    """Run the in-process market maker and taker until the context exits."""
    maker_client = InProcessClient(actor, await accounts.ensure_account(MAKER_LABEL))
    taker_client = InProcessClient(actor, await accounts.ensure_account(TAKER_LABEL))
    rng = random.Random(settings.bot_seed)
    maker = await market_maker(
        maker_client, settings.bot_markets, rng, levels=settings.bot_levels, faucet=settings.demo
    )
    taker = Taker(taker_client, maker.markets, rng=rng, faucet=settings.demo)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_steps("market maker", maker.step, settings.bot_interval, stop))]
    if maker.markets:
        tasks.append(asyncio.create_task(run_steps("taker", taker.step, settings.taker_interval, stop)))
    log.info("bots: market maker and taker on %s", ", ".join(sorted(maker.markets)) or "no market")
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
