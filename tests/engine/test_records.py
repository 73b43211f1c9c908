"""Records are immutable where it is checked (mypy, in CI) and cheap where it runs (plain slots)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mypy import api as mypy_api

from exchange.engine.events import BalanceChanged

SNIPPET = """
from exchange.engine.events import BalanceChanged

change = BalanceChanged(account_id=1, asset="SOL", available=5, locked=0, ts=1)
change.available = 6
BalanceChanged(1, "SOL", 5, 0, 1)
"""


def test_mypy_rejects_assigning_to_a_field_and_positional_arguments(tmp_path: Path) -> None:
    source = tmp_path / "mutate.py"
    source.write_text(textwrap.dedent(SNIPPET))
    out, _, status = mypy_api.run(["--strict", "--no-incremental", "--follow-imports=silent", str(source)])
    assert status == 1
    assert 'Property "available" defined in "BalanceChanged" is read-only' in out
    assert 'Too many positional arguments for "BalanceChanged"' in out


def test_records_compare_and_hash_by_value() -> None:
    a = BalanceChanged(account_id=1, asset="SOL", available=5, locked=0, ts=1)
    b = BalanceChanged(account_id=1, asset="SOL", available=5, locked=0, ts=1)
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != BalanceChanged(account_id=1, asset="SOL", available=6, locked=0, ts=1)
    assert not hasattr(a, "__dict__")
