"""The standard listings: USDC and three markets quoted in it, seeded once in demo mode.

Each asset names the networks it moves on as Backpack lists them (USDC on Solana and
Ethereum, SOL on Solana, BTC on Bitcoin, ETH on Ethereum). They are the exchange's one
set of realistic markets: demo mode lists them, and the
benchmarks and the tests that need "some real-looking markets" use them too.

`seed(actor)` lists whatever of `ASSETS` and `MARKETS` the engine does not have yet,
through the same `AddAsset`/`AddMarket` commands an operator's request becomes, so a
restart (the listings are recovered from the database) adds nothing. Every market
satisfies the exact-notional rule of `exchange.engine.numbers` (checked when the
`Market` is built, i.e. on import): one step is whole base atoms and one tick times
one step is whole quote atoms.

`REFERENCE_PRICES` are where the demo's market maker starts quoting when a book is
empty; afterwards its price walks.

`FAUCET_GRANT` is what a demo user gets (the web page's sign-up and "Get funds": that
much USDC and half as much worth of each base asset), and the market maker sizes its
quotes from it (`LEVEL_VALUE`), so the books are deep for the faucet's amounts in
every market: a side of ten levels holds about ten grants, and spending a whole
grant at market takes a level or two, never the book.
"""

from __future__ import annotations

from decimal import Decimal

from exchange.engine.actor import EngineActor
from exchange.engine.commands import AddAsset, AddMarket, Command
from exchange.engine.numbers import Asset, Market
from exchange.engine.queries import GetListings, Listings

USDC = Asset(symbol="USDC", decimals=6, blockchains=("Solana", "Ethereum"))
SOL = Asset(symbol="SOL", decimals=9, blockchains=("Solana",))
BTC = Asset(symbol="BTC", decimals=8, blockchains=("Bitcoin",))
ETH = Asset(symbol="ETH", decimals=8, blockchains=("Ethereum",))
ASSETS = (USDC, SOL, BTC, ETH)


def spot_market(
    base: Asset,
    quote: Asset,
    tick: str,
    step: str,
    minimum: str | None = None,
    *,
    maker_fee_bps: int = 0,
    taker_fee_bps: int = 0,
    band_min: Decimal | None = None,
    band_max: Decimal | None = None,
) -> Market:
    """The market `<BASE>_<QUOTE>`, sizes as decimal strings (the minimum quantity is one step unless given)."""
    return Market(
        symbol=f"{base.symbol}_{quote.symbol}",
        base=base,
        quote=quote,
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_quantity=Decimal(minimum or step),
        maker_fee_bps=maker_fee_bps,
        taker_fee_bps=taker_fee_bps,
        band_min=band_min,
        band_max=band_max,
    )


BAND_MIN, BAND_MAX = Decimal("0.5"), Decimal("2")
"""The demo markets' price band: limit prices from half to twice the last trade price."""
SOL_USDC = spot_market(
    SOL, USDC, tick="0.01", step="0.01", maker_fee_bps=2, taker_fee_bps=5, band_min=BAND_MIN, band_max=BAND_MAX
)
BTC_USDC = spot_market(
    BTC, USDC, tick="0.1", step="0.00001", maker_fee_bps=2, taker_fee_bps=5, band_min=BAND_MIN, band_max=BAND_MAX
)
ETH_USDC = spot_market(
    ETH, USDC, tick="0.01", step="0.0001", maker_fee_bps=2, taker_fee_bps=5, band_min=BAND_MIN, band_max=BAND_MAX
)
MARKETS = (SOL_USDC, BTC_USDC, ETH_USDC)

REFERENCE_PRICES = {"SOL_USDC": Decimal("150"), "BTC_USDC": Decimal("60000"), "ETH_USDC": Decimal("3000")}

FAUCET_GRANT = Decimal(10_000)
"""USDC per faucet grant (the web page's `QUOTE_GRANT`), with half that worth of each base asset."""

LEVEL_VALUE = FAUCET_GRANT / 2
"""USDC the market maker quotes at its smallest level (a level is one to three times that)."""


async def seed(actor: EngineActor, now_us: int) -> int:
    """List the demo assets and markets the engine lacks; return how many listings were added."""
    listings: Listings = await actor.query(GetListings())
    assets = {asset.symbol for asset in listings.assets}
    markets = {state.market.symbol for state in listings.markets}
    commands: list[Command] = [AddAsset(asset=a, ts=now_us) for a in ASSETS if a.symbol not in assets]
    commands += [AddMarket(market=m, ts=now_us) for m in MARKETS if m.symbol not in markets]
    for command in commands:
        await actor.submit(command)
    return len(commands)
