"""PnL over real sockets (`/exchange/v1/pnl`): a hand-computed example with fees and partial fills,
and the rule's edge cases on the pure fold (`exchange.pnl`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from exchange import pnl
from exchange.engine.numbers import Asset, Market
from tests.api.client import Client, ok
from tests.api.conftest import Exchange, serve_exchange

PNL = "/exchange/v1/pnl"
ETH_USDC = Market(
    symbol="ETH_USDC",
    base=Asset(symbol="ETH", decimals=8),
    quote=Asset(symbol="USDC", decimals=6),
    tick_size=Decimal("0.01"),
    step_size=Decimal("0.01"),
    min_quantity=Decimal("0.01"),
    maker_fee_bps=10,
    taker_fee_bps=20,
)


@pytest.fixture(scope="module")
def traders(database_name: str) -> Iterator[tuple[Exchange, Client, Client]]:
    """A server of its own listing ETH_USDC (maker 10 bps, taker 20 bps); Carol and Dave funded."""
    for served in serve_exchange(f"{database_name}_pnl"):
        ok(served.admin.post("/admin/v1/assets", "assetCreate", {"symbol": "ETH", "decimals": 8}))
        market = {
            "baseSymbol": "ETH", "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01",
            "makerFeeBps": "10", "takerFeeBps": "20",
        }  # fmt: skip
        ok(served.admin.post("/admin/v1/markets", "marketCreate", market))
        carol, dave = served.new_account(), served.new_account()
        for client in (carol, dave):
            client.fund("ETH", "10")
            client.fund("USDC", "10000")
        yield served, carol, dave


def order(client: Client, side: str, price: str, quantity: str) -> str:
    placed = ok(client.place(symbol="ETH_USDC", side=side, orderType="Limit", price=price, quantity=quantity))
    return str(placed["status"])


def test_pnl_by_hand_with_fees_and_partial_fills(traders: tuple[Exchange, Client, Client]) -> None:
    """ETH has 8 decimals, USDC 6; Carol's PnL, in atoms (1 ETH = 10^8, 1 USDC = 10^6):

    1. Carol buys 1.5 ETH at 100 as taker (Dave's ask of 2 rests): she pays 150,000,000 and her
       fee is 20 bps of the base received, 150,000,000 * 20 // 10,000 = 300,000 ETH atoms.
       Position 149,700,000 (1.497 ETH), cost 150,000,000.
    2. Carol's bid of 1 ETH at 90 rests; Dave sells into it 0.4, then 0.6 (two partial fills).
       As maker she pays 10 bps: 40,000 + 60,000 = 100,000 ETH atoms, and 90,000,000 USDC atoms.
       Position 149,700,000 + 99,900,000 = 249,600,000 (2.496 ETH), cost 240,000,000.
    3. Carol sells 1 ETH at 110 as taker into Dave's bid: she receives 110,000,000 less 20 bps,
       220,000, so 109,780,000. The sold part's cost is 240,000,000 * 100,000,000 // 249,600,000
       = 96,153,846 (96,153,846.15... rounded down). Realized 109,780,000 - 96,153,846 =
       13,626,154 (13.626154 USDC). Position 149,600,000 (1.496 ETH), cost 143,846,154.
    4. Unrealized at the last trade price, 110: 1.496 * 110 = 164,560,000 - 143,846,154 =
       20,713,846 (20.713846 USDC).
    """
    exchange, carol, dave = traders
    assert ok(carol.get(PNL, "pnlQuery")) == []
    assert order(dave, "Ask", "100", "2") == "New"
    assert order(carol, "Bid", "100", "1.5") == "Filled"
    ok(dave.delete("/api/v1/orders", "orderCancelAll", {"symbol": "ETH_USDC"}))
    assert order(carol, "Bid", "90", "1") == "New"
    assert order(dave, "Ask", "90", "0.4") == "Filled"
    assert order(dave, "Ask", "90", "0.6") == "Filled"
    assert order(dave, "Bid", "110", "1") == "New"
    assert order(carol, "Ask", "110", "1") == "Filled"
    assert ok(carol.get(PNL, "pnlQuery")) == [
        {
            "symbol": "ETH_USDC",
            "netQuantity": "1.49600000",
            "costBasis": "143.846154",
            "pnlRealized": "13.626154",
            "pnlUnrealized": "20.713846",
            "lastPrice": "110.00",
        }
    ]
    assert ok(carol.get(PNL, "pnlQuery", {"symbol": "ETH_USDC"})) == ok(carol.get(PNL, "pnlQuery"))
    assert ok(carol.get(PNL, "pnlQuery", {"symbol": "SOL_USDC"})) == []
    assert carol.get(PNL, "pnlQuery", {"symbol": "NOPE_USDC"}).status_code == 400
    assert exchange.new_account().get(PNL, "pnlQuery").json() == []


def buy(base: int, quote: int, fee: int = 0) -> pnl.Fill:
    return pnl.Fill(buy=True, base=base, quote=quote, fee=fee)


def sell(base: int, quote: int, fee: int = 0) -> pnl.Fill:
    return pnl.Fill(buy=False, base=base, quote=quote, fee=fee)


def test_a_closed_position_realizes_exactly_what_was_received_minus_paid() -> None:
    """Three buys and three sells whose shares all round: closed, the rounding is gone."""
    fills = [buy(3, 10), buy(7, 13), sell(3, 11, 1), buy(1, 5), sell(5, 9), sell(3, 7, 2)]
    result = pnl.fold(fills, ETH_USDC, last_price=None)
    assert (result.position, result.cost, result.unrealized) == (0, 0, None)
    assert result.realized == (11 - 1 + 9 + 7 - 2) - (10 + 13 + 5)


def test_base_from_deposits_sold_beyond_the_position_is_outside_pnl() -> None:
    """Bought 2 for 100, sold 4 for 300: only half the sale is covered, 150 - 100 = 50 realized."""
    result = pnl.fold([buy(2, 100), sell(4, 300), sell(1, 80)], ETH_USDC, last_price=None)
    assert (result.position, result.cost, result.realized) == (0, 0, 50)


def test_unrealized_is_the_value_at_the_last_price_rounded_down() -> None:
    """1 ETH atom at 0.01 USDC (1 tick) is worth 10^-8 * 0.01 USDC, nothing in USDC atoms."""
    assert pnl.fold([buy(1, 0)], ETH_USDC, last_price=1).unrealized == 0
    assert pnl.fold([buy(10**8, 5 * 10**6)], ETH_USDC, last_price=600).unrealized == 10**6
