"""The number rules: assets, markets and every conversion between decimals and integers.

Inside the engine nothing is a decimal. A price is an integer count of the market's
`tick_size`, a quantity an integer count of its `step_size`, and a balance an integer
count of the asset's smallest unit (an atom, 10**-decimals). A market is accepted only
if one step of base is a whole number of base atoms and one tick times one step is a
whole number of quote atoms; then the notional of any fill,
`ticks * steps * quote_atoms_per_tick_step`, is an exact integer and matching never
rounds. The one rounding in the whole engine is the fee, in `fee_atoms`.

A market may carry a price band: two multipliers `band_min <= 1 <= band_max` of a
reference price (the market's last trade price; no band before its first trade). A
limit price `p` (ticks) is inside when `band_min * ref <= p <= band_max * ref`, both
edges included, decided exactly on integers (`Market.band`), never on floats.

Conversions from decimals are exact (through `as_integer_ratio`, independent of the
decimal context); a value that is not a positive whole multiple of its unit raises
`InvalidInput` carrying its `RejectReason`, which the API maps to a 400 and a wire code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from exchange.engine.errors import ExchangeError, RejectReason

FEE_ACCOUNT = 0
"""The account every fee is credited to, so that each asset is conserved."""

BPS = 10_000

DEFAULT_BLOCKCHAINS = ("Solana",)
"""The network of an asset listed without naming any (Backpack's home chain)."""
BLOCKCHAIN = re.compile(r"[A-Za-z0-9]{1,32}")
"""What a network may be called: it travels in URLs, bodies and deposit references."""


class InvalidInput(ExchangeError, ValueError):
    """Bad input from a caller (not a business rejection): carries the reason it is refused."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def units_of(value: Decimal, unit: Decimal, *, reason: RejectReason, name: str) -> int:
    """Return `value / unit` as a positive int, or raise if it is not one exactly."""
    if not value.is_finite() or value <= 0:
        raise InvalidInput(reason, f"{name} must be a positive number")
    value_num, value_den = value.as_integer_ratio()
    unit_num, unit_den = unit.as_integer_ratio()
    count, rest = divmod(value_num * unit_den, value_den * unit_num)
    if rest:
        raise InvalidInput(reason, f"{name} {value} is not a multiple of {unit.normalize()}")
    return count


UnitParts = tuple[int, str]
"""A unit taken apart for `decimal_of`: its integer coefficient and its exponent as text (0.05: `(5, "E-2")`)."""


def unit_parts(unit: Decimal) -> UnitParts:
    """The parts of a positive `unit`, kept as written (0.010 is `(10, "E-3")`, not 0.01's `(1, "E-2")`)."""
    sign, digits, exponent = unit.as_tuple()
    assert isinstance(exponent, int) and not sign
    return int("".join(map(str, digits))), f"E{exponent}"


def decimal_of(count: int, unit: Decimal | UnitParts) -> Decimal:
    """Return `count * unit` exactly, whatever the size of `count` (the unit's exponent is the result's)."""
    coefficient, exponent = unit_parts(unit) if isinstance(unit, Decimal) else unit
    return Decimal(f"{count * coefficient}{exponent}")


def fee_atoms(received: int, bps: int) -> int:
    """The fee on `received` atoms: `received * bps / 10_000`, rounded down to the atom."""
    return received * bps // BPS


@dataclass(frozen=True, slots=True, kw_only=True)
class Asset:
    """A currency; balances of it are integer atoms of 10**-decimals.

    `blockchains` are the networks it is deposited and withdrawn on, by Backpack's names
    ("Solana", "Ethereum", ...), as the operator listed them: the engine only carries them.
    """

    symbol: str
    decimals: int
    blockchains: tuple[str, ...] = DEFAULT_BLOCKCHAINS

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.isalnum():
            raise InvalidInput(RejectReason.INVALID_LISTING, f"bad asset symbol {self.symbol!r}")
        if not 0 <= self.decimals <= 36:
            raise InvalidInput(RejectReason.INVALID_LISTING, "asset decimals must be within 0..36")
        names = self.blockchains
        if not names or len(set(names)) != len(names) or not all(BLOCKCHAIN.fullmatch(n) for n in names):
            raise InvalidInput(
                RejectReason.INVALID_LISTING, "blockchains must be distinct names of 1 to 32 ASCII letters and digits"
            )

    @property
    def atom(self) -> Decimal:
        """The smallest unit as a decimal."""
        return Decimal(f"1E-{self.decimals}")

    def atoms(self, amount: Decimal) -> int:
        """Convert a positive decimal amount to atoms, exactly."""
        return units_of(amount, self.atom, reason=RejectReason.INVALID_AMOUNT, name="amount")

    def amount(self, atoms: int) -> Decimal:
        """Convert atoms to a decimal amount, exactly."""
        return decimal_of(atoms, (1, f"E-{self.decimals}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Market:
    """A spot market and its exact integer scales (see the module docstring)."""

    symbol: str
    base: Asset
    quote: Asset
    tick_size: Decimal
    step_size: Decimal
    min_quantity: Decimal
    maker_fee_bps: int = 0
    taker_fee_bps: int = 0
    band_min: Decimal | None = None
    """The lowest limit price as a multiple of the reference price (None: no band)."""
    band_max: Decimal | None = None
    """The highest limit price as a multiple of the reference price (None: no band)."""
    base_atoms_per_step: int = field(init=False)
    quote_atoms_per_tick_step: int = field(init=False)
    min_steps: int = field(init=False)
    tick_parts: UnitParts = field(init=False, repr=False, compare=False)
    """`tick_size` taken apart once, for `price` (a reply converts several prices and quantities)."""
    step_parts: UnitParts = field(init=False, repr=False, compare=False)
    """`step_size` taken apart once, for `quantity`."""

    def __post_init__(self) -> None:
        bad = RejectReason.INVALID_LISTING
        if self.base.symbol == self.quote.symbol:
            raise InvalidInput(bad, "base and quote must differ")
        for name in ("tick_size", "step_size", "min_quantity"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value <= 0:
                raise InvalidInput(bad, f"{name} must be positive")
        if not (0 <= self.maker_fee_bps < BPS and 0 <= self.taker_fee_bps < BPS):
            raise InvalidInput(bad, "fees must be within 0..9999 bps")
        if (self.band_min is None) != (self.band_max is None):
            raise InvalidInput(bad, "a price band needs both its minimum and its maximum multiplier")
        low, high = self.band_min, self.band_max
        if low is not None and high is not None and not (low.is_finite() and high.is_finite() and 0 < low <= 1 <= high):
            raise InvalidInput(bad, "price band multipliers must satisfy 0 < minimum <= 1 <= maximum")
        per_step = self.step_size * 10**self.base.decimals
        per_tick_step = self.tick_size * self.step_size * 10**self.quote.decimals
        if per_step != per_step.to_integral_value() or per_tick_step != per_tick_step.to_integral_value():
            raise InvalidInput(
                bad,
                f"{self.symbol}: step_size must be whole base atoms and tick_size*step_size "
                "whole quote atoms, so that every notional is exact",
            )
        object.__setattr__(self, "base_atoms_per_step", int(per_step))
        object.__setattr__(self, "quote_atoms_per_tick_step", int(per_tick_step))
        object.__setattr__(
            self, "min_steps", units_of(self.min_quantity, self.step_size, reason=bad, name="min_quantity")
        )
        object.__setattr__(self, "tick_parts", unit_parts(self.tick_size))
        object.__setattr__(self, "step_parts", unit_parts(self.step_size))

    def ticks(self, price: Decimal) -> int:
        """Convert a decimal price to ticks, or raise `InvalidInput` (INVALID_PRICE) if it is off the tick."""
        return units_of(price, self.tick_size, reason=RejectReason.INVALID_PRICE, name="price")

    def steps(self, quantity: Decimal) -> int:
        """Convert a decimal quantity to steps, or raise `InvalidInput` (INVALID_AMOUNT) if off the step."""
        return units_of(quantity, self.step_size, reason=RejectReason.INVALID_AMOUNT, name="quantity")

    def price(self, ticks: int) -> Decimal:
        """Convert ticks to a decimal price."""
        return decimal_of(ticks, self.tick_parts)

    def quantity(self, steps: int) -> Decimal:
        """Convert steps to a decimal quantity."""
        return decimal_of(steps, self.step_parts)

    def band(self, reference: int) -> tuple[int, int] | None:
        """The lowest and highest limit prices (ticks, both allowed) around `reference` ticks; None: no band."""
        if self.band_min is None or self.band_max is None:
            return None
        low_num, low_den = self.band_min.as_integer_ratio()
        high_num, high_den = self.band_max.as_integer_ratio()
        return -(-reference * low_num // low_den), reference * high_num // high_den

    def notional(self, ticks: int, steps: int) -> int:
        """Quote atoms paid for `steps` at `ticks`: exact by the market's validation."""
        return ticks * steps * self.quote_atoms_per_tick_step
