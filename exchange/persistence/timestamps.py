"""Exact conversions between the engine's integer microseconds and `datetime`.

PostgreSQL's `timestamptz` has microsecond resolution, and so has `datetime`; going
through `timedelta(microseconds=...)` is integer arithmetic, so a timestamp survives
the round trip engine -> database -> engine unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(micros: int) -> datetime:
    """The UTC datetime of `micros` microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly."""
    return (moment - EPOCH) // timedelta(microseconds=1)
