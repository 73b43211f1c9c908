"""One exception root: every exception class the project defines derives from `ExchangeError`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import exchange
from exchange.engine.errors import ExchangeError


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
