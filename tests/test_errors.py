"""One exception root, one enum of the engine's error codes, and each wire code spelled out once."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import exchange
from exchange.api.errors import REJECTIONS
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.protocol.codes import Code

CODES_MODULE = Path(exchange.__file__).parent / "protocol" / "codes.py"


def test_every_exception_of_the_project_has_the_one_root() -> None:
    strays = []
    for module_info in pkgutil.walk_packages(exchange.__path__, "exchange."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not issubclass(value, ExchangeError)
            ):
                strays.append(f"{module.__name__}.{name}")
    assert strays == []


def test_every_reason_of_the_engine_maps_to_a_status_and_a_code() -> None:
    assert set(REJECTIONS) == set(RejectReason)
    assert all(400 <= status < 500 and isinstance(code, Code) for status, code in REJECTIONS.values())


def test_no_error_code_is_written_as_a_string_outside_the_codes_module() -> None:
    codes = {code.value for code in Code} | {reason.value for reason in RejectReason}
    spelled = [
        f"{path.relative_to(CODES_MODULE.parents[2])}:{node.lineno} {node.value}"
        for path in sorted(Path(exchange.__file__).parent.rglob("*.py"))
        if path != CODES_MODULE
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in codes
    ]
    assert spelled == []
