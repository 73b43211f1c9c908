"""The bots as remote clients: `exchange bots --url ... --key ...` against any deployment.

The market maker and the taker are the same classes the server runs in-process, each
holding a `RestClient` with a key of its own (two accounts, so the taker trades with
the maker instead of being stopped by self-trade prevention). A key that is not given
is generated and registered through open sign-up (a demo server); a given key must
already belong to an account. `--faucet` lets them top up through the deposit route,
which a server allows in demo mode (or for an admin key).
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass

import httpx

from exchange.api.auth import KeyPair
from exchange.bots.client import RestClient
from exchange.bots.loop import run_steps
from exchange.bots.run import market_maker
from exchange.bots.taker import Taker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteBots:
    """What `exchange bots` was asked to run."""

    url: str
    maker_key: KeyPair | None
    taker_key: KeyPair | None
    markets: tuple[str, ...] = ()
    levels: int = 5
    interval: float = 2.0
    taker_interval: float = 3.0
    taker: bool = True
    faucet: bool = True
    seed: int | None = None


async def _client(http: httpx.AsyncClient, key: KeyPair | None) -> RestClient:
    client = RestClient(http, key or KeyPair.generate())
    if key is None:
        await client.sign_up()
    return client


async def run_remote(bots: RemoteBots, stop: asyncio.Event) -> None:
    """Run the market maker (and the taker) against `bots.url` until `stop` is set."""
    async with httpx.AsyncClient(base_url=bots.url, timeout=10) as http:
        maker_client = await _client(http, bots.maker_key)
        rng = random.Random(bots.seed)
        maker = await market_maker(maker_client, bots.markets, rng, levels=bots.levels, faucet=bots.faucet)
        runs = [run_steps("market maker", maker.step, bots.interval, stop)]
        if bots.taker:
            taker = Taker(await _client(http, bots.taker_key), maker.markets, rng=rng, faucet=bots.faucet)
            runs.append(run_steps("taker", taker.step, bots.taker_interval, stop))
        log.info("bots: quoting %s on %s", ", ".join(sorted(maker.markets)) or "no market", bots.url)
        await asyncio.gather(*runs)
