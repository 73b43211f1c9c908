"""Outside `exchange/engine`, the engine is reached only through its interface of data.

Commands go in through `actor.submit` and reads through `actor.query` with a named
query record (`exchange.engine.queries`); nothing else reads the engine's dictionaries.
Checked on the source: outside the engine room, a module may import from the engine's
own modules (`engine` and the modules it is made of, `book`, `state`) only the names
that build or hand over a whole engine (recovery rebuilds it from the database; the
composition root and the seat pass it to the actor), and it never reads an attribute that names the engine's state from
anything but its own fields. (That `actor.query` takes only query records, never a
closure, `mypy --strict` checks.) The benchmarks, which measure the pure engine
itself, are the one exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

import exchange
from exchange.engine.engine import Engine

ROOT = Path(exchange.__file__).parent
OUTSIDE = sorted(p for p in ROOT.rglob("*.py") if "engine" not in p.relative_to(ROOT).parts[:1])
OUTSIDE = [p for p in OUTSIDE if p.relative_to(ROOT).parts[0] != "bench"]
ALLOWED = {
    "exchange.engine.engine": {"Engine"},
    "exchange.engine.transfers": {"RECENT_TRANSFERS"},
    "exchange.engine.core": set(),
    "exchange.engine.matching": set(),
    "exchange.engine.book": set(),
    "exchange.engine.state": {"BalanceState", "OpenOrderState", "Snapshot", "reservation_mismatches", "restore"},
}
STATE = {name for name in vars(Engine()) if not name.startswith("_")}
"""The engine's state attributes, read off a new engine: books, open_orders, client_ids, ..."""
SHARED_NAMES = {"assets", "balances"}
"""State names that are also ordinary fields of other records (a catalog's assets, a listing's)."""


def test_the_outside_modules_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in OUTSIDE}
    assert {"app.py", "seat.py", "api/private.py", "persistence/recovery.py", "bots/client.py"} <= names
    assert {"books", "open_orders", "client_ids", "transfer_ids"} <= STATE


def test_nothing_outside_the_engine_imports_its_internals() -> None:
    found = {}
    for path in OUTSIDE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module in ALLOWED:
                extra = {alias.name for alias in node.names} - ALLOWED[node.module]
                if extra:
                    found[f"{path.relative_to(ROOT)}: {node.module}"] = extra
    assert found == {}


def test_nothing_outside_the_engine_reads_its_state() -> None:
    found = []
    for path in OUTSIDE:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in STATE - SHARED_NAMES and not _own(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def _own(base: ast.expr) -> bool:
    """`self` or a field of it: an object's own attributes (the feed's `books`), never an engine's."""
    while isinstance(base, ast.Attribute):
        base = base.value
    return isinstance(base, ast.Name) and base.id == "self"
