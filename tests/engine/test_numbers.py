"""The number rules: market validation, exact conversions, the fee rule."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.demo import spot_market
from exchange.engine.errors import RejectReason
from exchange.engine.numbers import Asset, InvalidInput, decimal_of, fee_atoms
from tests.engine.builders import BTC, BTC_USDC, ETH_BTC, USDC


def test_market_scales_make_every_notional_exact() -> None:
    assert BTC_USDC.base_atoms_per_step == 10_000
    assert BTC_USDC.quote_atoms_per_tick_step == 50
    assert ETH_BTC.quote_atoms_per_tick_step == 1
    assert BTC_USDC.notional(BTC_USDC.ticks(Decimal("30000")), BTC_USDC.steps(Decimal("0.0003"))) == 9_000_000


@pytest.mark.parametrize(("tick", "step"), [("0.01", "0.00001"), ("0.5", "0.000000001"), ("0.000001", "0.1")])
def test_market_whose_notionals_would_round_is_refused(tick: str, step: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        spot_market(BTC, USDC, tick, step)
    assert raised.value.reason is RejectReason.INVALID_LISTING


@pytest.mark.parametrize("bad", ["0", "-1", "NaN", "Infinity"])
def test_market_sizes_must_be_positive_and_finite(bad: str) -> None:
    with pytest.raises(InvalidInput):
        spot_market(BTC, USDC, bad, "0.001")


def test_same_base_and_quote_and_bad_fees_are_refused() -> None:
    with pytest.raises(InvalidInput):
        spot_market(USDC, USDC, "0.01", "0.01")
    with pytest.raises(InvalidInput):
        spot_market(BTC, USDC, "0.5", "0.0001", taker_fee_bps=10_000)


@pytest.mark.parametrize(
    "bad", [{"symbol": "", "decimals": 2}, {"symbol": "A-B", "decimals": 2}, {"symbol": "A", "decimals": 37}]
)
def test_bad_assets_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        Asset(**bad)  # type: ignore[arg-type]


def test_price_is_read_numerically() -> None:
    assert (
        BTC_USDC.ticks(Decimal("150")) == BTC_USDC.ticks(Decimal("150.00")) == BTC_USDC.ticks(Decimal("1.5E2")) == 300
    )
    assert BTC_USDC.price(300) == Decimal("150")
    assert BTC_USDC.steps(Decimal("0.00030")) == 3


@pytest.mark.parametrize("bad", ["150.25", "0", "-150", "NaN", "sNaN", "Infinity", "-Infinity", "0.0000000000000001"])
def test_off_tick_or_non_positive_price_raises_invalid_price(bad: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        BTC_USDC.ticks(Decimal(bad))
    assert raised.value.reason is RejectReason.INVALID_PRICE


@pytest.mark.parametrize("bad", ["0.00015", "0", "-1", "NaN", "Infinity"])
def test_off_step_quantity_raises_invalid_quantity(bad: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        BTC_USDC.steps(Decimal(bad))
    assert raised.value.reason is RejectReason.INVALID_AMOUNT


def test_huge_values_convert_exactly_both_ways() -> None:
    huge = Decimal("123456789012345678901234567890123456789.5")
    ticks = BTC_USDC.ticks(huge)
    assert ticks == 246913578024691357802469135780246913579
    assert BTC_USDC.price(ticks) == huge
    atoms = BTC.atoms(Decimal("98765432109876543210987654321.12345678"))
    assert atoms == 9876543210987654321098765432112345678
    assert BTC.amount(atoms) == Decimal("98765432109876543210987654321.12345678")
    assert decimal_of(10**60 + 1, Decimal("0.001")) == Decimal(f"{10**57}.001")


def test_asset_amounts_must_be_whole_atoms() -> None:
    assert USDC.atoms(Decimal("1.5")) == 1_500_000
    with pytest.raises(InvalidInput) as raised:
        USDC.atoms(Decimal("0.0000001"))
    assert raised.value.reason is RejectReason.INVALID_AMOUNT


def test_fee_rounds_down_to_the_atom() -> None:
    assert fee_atoms(10_000, 25) == 25
    assert fee_atoms(399, 25) == 0
    assert fee_atoms(401, 25) == 1
    assert fee_atoms(12_345, 7) == 8
    assert fee_atoms(0, 9_999) == 0
