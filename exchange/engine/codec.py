"""One codec for the engine's interface: commands, queries, events and answers as JSON bytes and back.

Everything that crosses the engine's boundary is a record (or the `OrderSpec` named
tuple) made of ints, strings, booleans, enums, Decimals, tuples and other records, so
one generic rule serves them all, and a transport between processes needs nothing else:

- a record is an object with its class name under `"type"` and one key per field, so a
  field typed as a union (`Rejected.command`) decodes to the right class;
- an enum is its value, a Decimal its exact string, a tuple a list (decoded as a tuple);
- an int is a JSON integer while it fits in 64 bits and its decimal string beyond
  (balances are unbounded Python ints; JSON parsers stop at 64 bits);
- decoding reads each field's declared type, so `decode(encode(x)) == x` exactly.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from decimal import Decimal
from typing import Any

import orjson

from exchange.engine import commands, events, numbers, orders, queries

_MODULES = (commands, events, queries, numbers, orders)
RECORDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for module in _MODULES
    for cls in vars(module).values()
    if isinstance(cls, type)
    and cls.__module__ == module.__name__
    and (dataclasses.is_dataclass(cls) or hasattr(cls, "_fields"))
}
"""Every record type of the interface, by class name."""

_INT64 = 1 << 63


def encode(value: object) -> bytes:
    """`value` (a record, or a tuple of records) as JSON bytes."""
    return orjson.dumps(_data(value))


def decode(raw: bytes | str, expected: Any = Any) -> Any:
    """The value `encode` wrote; `expected` is its type where it is not a record (a tuple of answers, say)."""
    return _value(orjson.loads(raw), expected)


def to_data(value: object) -> object:
    """`value` as the JSON-ready data `encode` serializes, for embedding in a larger message."""
    return _data(value)


def from_data(data: object, expected: Any = Any) -> Any:
    """The value `to_data` gave, read back from parsed JSON."""
    return _value(data, expected)


def _data(value: object) -> object:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if type(value).__name__ in RECORDS:
        return {"type": type(value).__name__, **{name: _data(getattr(value, name)) for name in _fields(type(value))}}
    if isinstance(value, tuple | list):
        return [_data(item) for item in value]
    raise TypeError(f"not part of the engine's interface: {value!r}")


def _value(data: Any, expected: Any) -> Any:
    if isinstance(data, dict):
        cls = RECORDS[data["type"]]
        hints = _hints(cls)
        return cls(**{name: _value(data[name], hints[name]) for name in _fields(cls)})
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        return _value(data, next(arg for arg in args if arg is not type(None)))
    if origin is tuple:
        items = args[:1] * len(data) if len(args) == 2 and args[1] is Ellipsis else args
        return tuple(_value(item, kind) for item, kind in zip(data, items, strict=True))
    if origin is list:
        return [_value(item, args[0]) for item in data]
    if isinstance(data, list):  # a tuple of unstated type: an answer like `(Listings, (Depth, ...))`
        return tuple(_value(item, Any) for item in data)
    if isinstance(expected, type) and issubclass(expected, enum.Enum | Decimal):
        return expected(data)
    if expected is int and isinstance(data, str):
        return int(data)
    return data


def _fields(cls: type[Any]) -> tuple[str, ...]:
    fields = _FIELDS.get(cls.__name__)
    if fields is None:
        if dataclasses.is_dataclass(cls):
            fields = tuple(f.name for f in dataclasses.fields(cls) if f.init)
        else:
            fields = tuple(cls._fields)
        _FIELDS[cls.__name__] = fields
    return fields


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls.__name__)
    if hints is None:
        hints = _HINTS[cls.__name__] = typing.get_type_hints(cls)
    return hints


_FIELDS: dict[str, tuple[str, ...]] = {}
_HINTS: dict[str, dict[str, Any]] = {}
