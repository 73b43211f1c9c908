"""The market-data rules at explicit times: every interval's bounds, the fold, the ticker's window and rounding."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.demo import SOL_USDC
from exchange.engine.events import TradeExecuted
from exchange.marketdata import (
    DAY_US,
    INTERVALS,
    MINUTE_US,
    US,
    Candle,
    change_fraction,
    minute_start,
    ticker,
    ticker_window,
)
from tests.engine import builders
from tests.support.marketdata import make_ticker

HOUR_US = 60 * MINUTE_US


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Microseconds since the epoch of a UTC date and time."""
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()) * US


def trade(trade_id: int, price: int, steps: int, ts: int) -> TradeExecuted:
    """A SOL/USDC trade of `steps` at `price` ticks."""
    return builders.trade(SOL_USDC, trade_id, price, steps, ts)


def fold(trades: list[TradeExecuted], start: int, end: int) -> Candle:
    """Every trade folded, in order, into one candle spanning `[start, end)`."""
    total = Candle.of_trade(trades[0]).spanning(start, end)
    for later in trades[1:]:
        total.merge(Candle.of_trade(later))
    return total


# -- bounds ---------------------------------------------------------------------------


def test_the_interval_table_is_backpacks() -> None:
    assert list(INTERVALS) == [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month",
    ]  # fmt: skip
    assert [i.seconds for i in INTERVALS.values()][:-1] == [
        60, 180, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 28_800, 43_200, 86_400, 259_200, 604_800,
    ]  # fmt: skip
    assert INTERVALS["1month"].seconds is None


@pytest.mark.parametrize("name", [name for name in INTERVALS if name != "1month"])
def test_fixed_bounds_are_aligned_half_open_and_exact_length(name: str) -> None:
    interval = INTERVALS[name]
    assert interval.seconds is not None
    length = interval.seconds * US
    for ts in (at(2026, 3, 29, 1, 30), at(2026, 10, 25, 0, 59) + 999_999, 0, at(2026, 1, 7, 13, 7) + 1):
        start, end = interval.bounds(ts)
        assert start <= ts < end and end - start == length
        assert (start - interval.origin) % length == 0
        assert interval.bounds(start) == (start, end)
        assert interval.bounds(end - 1) == (start, end)
        assert interval.bounds(end) == (end, end + length)


def test_known_bounds() -> None:
    wednesday = at(2026, 1, 7, 13, 7, 42) + 5
    assert INTERVALS["1m"].bounds(wednesday) == (at(2026, 1, 7, 13, 7), at(2026, 1, 7, 13, 8))
    assert INTERVALS["4h"].bounds(wednesday) == (at(2026, 1, 7, 12), at(2026, 1, 7, 16))
    assert INTERVALS["1d"].bounds(wednesday) == (at(2026, 1, 7), at(2026, 1, 8))
    assert INTERVALS["3d"].bounds(wednesday) == (at(2026, 1, 7), at(2026, 1, 10))  # day 20460 of the epoch
    assert INTERVALS["1w"].bounds(wednesday) == (at(2026, 1, 5), at(2026, 1, 12))  # from Monday
    assert INTERVALS["1w"].bounds(at(2026, 1, 4, 23, 59)) == (at(2025, 12, 29), at(2026, 1, 5))


def test_month_bounds_are_calendar_months_in_utc() -> None:
    month = INTERVALS["1month"]
    assert month.bounds(at(2026, 2, 14, 10)) == (at(2026, 2, 1), at(2026, 3, 1))
    assert month.bounds(at(2028, 2, 29, 23, 59)) == (at(2028, 2, 1), at(2028, 3, 1))  # leap year
    assert month.bounds(at(2026, 12, 31, 23, 59, 59) + 999_999) == (at(2026, 12, 1), at(2027, 1, 1))
    assert month.bounds(at(2027, 1, 1)) == (at(2027, 1, 1), at(2027, 2, 1))
    assert month.bounds(at(2026, 3, 1) - 1) == (at(2026, 2, 1), at(2026, 3, 1))


@pytest.fixture
def berlin() -> Iterator[None]:
    """The process's local time zone set to Europe/Berlin (whose clocks jump on 2026-03-29 and 2026-10-25)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "Europe/Berlin")
        time.tzset()
        yield
    time.tzset()


@pytest.mark.usefixtures("berlin")
def test_bounds_ignore_the_local_time_zone_and_its_daylight_saving() -> None:
    assert time.localtime(at(2026, 3, 29, 12) // US).tm_isdst == 1  # the zone really is in effect
    spring, autumn = at(2026, 3, 29, 1, 30), at(2026, 10, 25, 1, 30)
    assert INTERVALS["1d"].bounds(spring) == (at(2026, 3, 29), at(2026, 3, 30))
    assert INTERVALS["1month"].bounds(spring) == (at(2026, 3, 1), at(2026, 4, 1))
    assert INTERVALS["1month"].bounds(autumn) == (at(2026, 10, 1), at(2026, 11, 1))
    assert INTERVALS["1month"].bounds(at(2026, 2, 28, 23, 30)) == (at(2026, 2, 1), at(2026, 3, 1))


def test_minute_start() -> None:
    assert minute_start(at(2026, 1, 7, 13, 7, 42) + 5) == at(2026, 1, 7, 13, 7)
    assert minute_start(at(2026, 1, 7, 13, 7)) == at(2026, 1, 7, 13, 7)
    assert Candle.of_trade(trade(1, 100, 1, at(2026, 1, 7, 13, 8) - 1)).start == at(2026, 1, 7, 13, 7)


# -- the fold -------------------------------------------------------------------------


def test_fold_keeps_open_widens_high_low_takes_last_close_and_adds_up() -> None:
    minute = at(2026, 1, 7, 13, 7)
    one = Candle.of_trade(trade(1, 15_000, 100, minute + 3))
    assert one == Candle(minute, minute + MINUTE_US, 15_000, 15_000, 15_000, 15_000, 100, 150_000_000, 1)
    one.merge(Candle.of_trade(trade(2, 16_000, 50, minute + 4)))
    one.merge(Candle.of_trade(trade(3, 14_000, 20, minute + 4)))
    one.merge(Candle.of_trade(trade(4, 14_500, 30, minute + 5)))
    assert one == Candle(minute, minute + MINUTE_US, 15_000, 16_000, 14_000, 14_500, 200, 301_500_000, 4)
    kline = one.kline(SOL_USDC)
    assert (kline.open, kline.high, kline.low, kline.close) == tuple(
        Decimal(p) for p in ("150.00", "160.00", "140.00", "145.00")
    )
    assert (str(kline.volume), str(kline.quote_volume), kline.trades) == ("2.00", "301.500000", 4)


trade_lists = st.lists(
    st.tuples(st.integers(1, 10**6), st.integers(1, 10**4), st.integers(0, 10 * MINUTE_US)), min_size=1, max_size=40
)


@given(trade_lists)
def test_folding_minutes_equals_folding_their_trades(specs: list[tuple[int, int, int]]) -> None:
    origin = at(2026, 1, 7)
    trades = [
        trade(n, price, steps, origin + ts) for n, (price, steps, ts) in enumerate(sorted(specs, key=lambda s: s[2]))
    ]
    minutes: dict[int, Candle] = {}
    for t in trades:  # trade by trade with `add`, as the writer does; `fold` below merges one-trade candles
        start = minute_start(t.ts)
        if start in minutes:
            minutes[start].add(t)
        else:
            minutes[start] = Candle.of_trade(t)
    start, end = INTERVALS["1h"].bounds(origin)
    ordered = [minutes[s] for s in sorted(minutes)]
    whole = ordered[0].spanning(start, end)
    for minute in ordered[1:]:
        whole.merge(minute)
    assert whole == fold(trades, start, end)
    assert (whole.open, whole.close) == (trades[0].price, trades[-1].price)
    assert (whole.high, whole.low) == (max(t.price for t in trades), min(t.price for t in trades))
    assert whole.trades == len(trades) and whole.volume == sum(t.quantity for t in trades)


# -- the 24-hour ticker ---------------------------------------------------------------


def test_the_window_is_the_1440_minutes_ending_with_the_current_one() -> None:
    now = at(2026, 1, 7, 13, 7, 42)
    first, last = ticker_window(now)
    assert last == at(2026, 1, 7, 13, 7) and first == at(2026, 1, 6, 13, 8)
    assert (last - first) // MINUTE_US + 1 == 1440
    assert ticker_window(at(2026, 1, 7, 13, 7)) == (first, last)
    assert ticker_window(at(2026, 1, 7, 13, 8) - 1) == (first, last)
    assert ticker_window(at(2026, 1, 7, 13, 8)) == (first + MINUTE_US, last + MINUTE_US)


def test_ticker_across_the_window_edge() -> None:
    old, new = at(2026, 1, 6, 13, 8), at(2026, 1, 7, 9, 0)
    trades = [trade(1, 15_000, 100, old + 59 * US), trade(2, 16_000, 100, new), trade(3, 15_500, 300, new + 1)]
    minutes = {start: fold([t for t in trades if minute_start(t.ts) == start], start, start + MINUTE_US)
               for start in {minute_start(t.ts) for t in trades}}  # fmt: skip
    last_with_old = old + DAY_US - 1  # the old minute is the window's first one until here
    with_old = ticker(SOL_USDC, minutes, last_with_old)
    assert with_old == make_ticker(
        "SOL_USDC", ohlc=("150.00", "160.00", "150.00", "155.00"), volume="5.00", quote_volume="775.000000", trades=3
    )
    assert with_old.price_change == Decimal("5.00") and with_old.price_change_fraction == Decimal("0.033333")
    without_old = ticker(SOL_USDC, minutes, last_with_old + 1)
    assert without_old is not None
    assert (without_old.first_price, without_old.low, without_old.trades) == (Decimal("160.00"), Decimal("155.00"), 2)
    assert format(without_old.price_change_fraction, "f") == "-0.031250"
    assert ticker(SOL_USDC, minutes, new + DAY_US) is None  # everything left the window
    assert ticker(SOL_USDC, minutes, old - 1) is None  # nothing traded yet (minutes ahead are not in the window)


@pytest.mark.parametrize(
    ("first", "last", "fraction"),
    [
        ("100", "110", "0.100000"),
        ("150.00", "145.00", "-0.033333"),
        ("3", "4", "0.333333"),
        ("3", "5", "0.666667"),
        ("8", "8", "0.000000"),
        ("2000000", "2000001", "0.000000"),  # exactly half a unit: to even (0)
        ("2000000", "2000003", "0.000002"),  # exactly one and a half units: to even (2)
        ("2000000", "1999999", "0.000000"),  # a negative half rounds to 0, written without a sign
        ("2000000", "1999997", "-0.000002"),
        (str(2 * 10**36), str(2 * 10**36 + 10**30 + 1), "0.000001"),  # just above half: exact, not 28 digits
    ],
)
def test_change_fraction_rounds_the_exact_quotient_half_to_even(first: str, last: str, fraction: str) -> None:
    assert format(change_fraction(Decimal(first), Decimal(last)), "f") == fraction


def test_the_module_is_pure() -> None:
    script = "import json, sys\nimport exchange.marketdata\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    shell = ("asyncio", "sqlalchemy", "asyncpg", "exchange.api", "exchange.streams", "exchange.persistence")
    assert [name for name in loaded if name.split(".")[0] in shell or name.startswith(shell[3:])] == []
