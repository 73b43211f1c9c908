"""SQL lives only in `exchange/persistence`: no other module of the exchange speaks to the database itself.

A module outside `exchange/persistence` (whose `migrations/` hold the alembic
revisions) may hold an `AsyncEngine` and hand it on, and that is all: it imports
nothing else from SQLAlchemy (no `select`, `insert`, `update`, `delete`, `text`,
`func`, tables or types) and nothing from the driver (asyncpg), spells no SQL
statement in a string, and calls none of the connection-level methods that run SQL
or reach the driver. The check reads the source (AST), like `tests/engine/test_purity.py`,
so a statement that creeps back into the API, the streams or the bots fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import exchange

ROOT = Path(exchange.__file__).parent
PERSISTENCE = ROOT / "persistence"
OUTSIDE = sorted(p for p in ROOT.rglob("*.py") if not p.is_relative_to(PERSISTENCE))

ALLOWED_SQLALCHEMY = {"sqlalchemy.ext.asyncio", "sqlalchemy.ext.asyncio.AsyncEngine"}
"""The one SQLAlchemy name a module outside persistence may use: the engine handle it passes on."""
DRIVER_CALLS = {
    "copy_records_to_table",
    "exec_driver_sql",
    "execution_options",
    "fetchrow",
    "fetchval",
    "get_raw_connection",
    "scalar",
    "scalars",
}
"""Methods of a SQLAlchemy connection or an asyncpg connection that run SQL or hand out the driver."""
STATEMENT = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE|DELETE\s+FROM|CREATE|DROP|ALTER|TRUNCATE|COPY|LISTEN|NOTIFY)\s"
)
"""A string that starts like an SQL statement (upper case, as the project writes SQL)."""


def sql_in(source: str) -> list[str]:
    """What in `source` talks to the database itself: forbidden imports, SQL strings, driver calls."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            names = []
        for name in names:
            root = name.split(".")[0]
            if root == "asyncpg" or (root == "sqlalchemy" and name not in ALLOWED_SQLALCHEMY):
                found.append(f"imports {name}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and STATEMENT.match(node.value):
            found.append(f"SQL string {node.value.split()[0]} ...")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DRIVER_CALLS:
            found.append(f"calls .{node.func.attr}()")
    return found


def test_no_module_outside_persistence_speaks_sql() -> None:
    offenders = {str(p.relative_to(ROOT)): found for p in OUTSIDE if (found := sql_in(p.read_text()))}
    assert offenders == {}


def test_the_scan_covers_the_rooms_that_used_to_run_sql() -> None:
    scanned = {str(p.relative_to(ROOT)) for p in OUTSIDE}
    assert {"api/service.py", "streams/feed.py", "bots/run.py", "observability.py", "bench/latency.py"} <= scanned


def test_the_check_finds_each_kind_of_sql() -> None:
    source = (
        "import asyncpg\n"
        "from sqlalchemy import select, update\n"
        "from sqlalchemy.ext.asyncio import AsyncEngine\n"
        "async def f(db: AsyncEngine, connection: object) -> None:\n"
        "    await connection.scalar(select(1))\n"
        "    await connection.exec_driver_sql('DELETE FROM accounts')\n"
    )
    assert sql_in(source) == [
        "imports asyncpg",
        "imports sqlalchemy",
        "imports sqlalchemy.select",
        "imports sqlalchemy.update",
        "calls .scalar()",
        "calls .exec_driver_sql()",
        "SQL string DELETE ...",
    ]


def test_the_persistence_modules_are_where_the_sql_is() -> None:
    for name in ("accounts.py", "queries.py", "floors.py"):
        assert sql_in((PERSISTENCE / name).read_text()), name
