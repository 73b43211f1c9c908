"""The pure engine modules import nothing from the shell: no api, streams, persistence, asyncio or database."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import exchange.engine

ENGINE = Path(exchange.engine.__file__).parent
FORBIDDEN = ("exchange.api", "exchange.streams", "exchange.persistence", "asyncio", "sqlalchemy")
PURE = sorted(p for p in ENGINE.glob("*.py") if p.name != "actor.py")


def imported_names(path: Path) -> set[str]:
    """Every module a source file imports, by absolute name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("exchange.engine." + (node.module or ""))
            else:
                assert node.module is not None
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_the_pure_modules_are_the_ones_expected() -> None:
    expected = {"numbers", "orders", "commands", "events", "book", "engine", "core", "matching", "transfers", "state"}
    assert {p.stem for p in PURE} >= expected


def test_pure_modules_import_nothing_from_the_shell() -> None:
    for path in PURE:
        bad = sorted(n for n in imported_names(path) if is_forbidden(n))
        assert not bad, f"{path.name} imports {bad}"


def test_importing_the_pure_modules_loads_no_shell_module() -> None:
    modules = [f"exchange.engine.{p.stem}" for p in PURE if p.stem != "__init__"]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert [name for name in loaded if is_forbidden(name)] == []
