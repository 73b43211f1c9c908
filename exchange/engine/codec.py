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
from collections.abc import Callable
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
    return _reader(expected)(orjson.loads(raw))


def to_data(value: object) -> object:
    """`value` as the JSON-ready data `encode` serializes, for embedding in a larger message."""
    return _data(value)


def from_data(data: object, expected: Any = Any) -> Any:
    """The value `to_data` gave, read back from parsed JSON."""
    return _reader(expected)(data)


# Both directions are compiled once per type into plain functions (a dispatch on the
# value's class when writing, on the declared type when reading), so a value costs a
# dictionary lookup per node instead of a walk through `typing` on every field.

Convert = Callable[[Any], Any]


def _data(value: object) -> object:
    writer = _WRITERS.get(type(value))
    if writer is None:
        writer = _WRITERS[type(value)] = _writer(type(value))
    return writer(value)


def _writer(cls: type[Any]) -> Convert:
    if cls in (bool, str, type(None)):
        return _same
    if cls is int:
        return lambda value: value if -_INT64 <= value < _INT64 else str(value)
    if issubclass(cls, enum.Enum):
        return lambda value: value.value
    if cls is Decimal:
        return str
    if RECORDS.get(cls.__name__) is cls:
        return _record_writer(cls)
    if issubclass(cls, tuple | list):
        return lambda value: [_data(item) for item in value]
    raise TypeError(f"not part of the engine's interface: {cls.__name__}")


def _record_writer(cls: type[Any]) -> Convert:
    """`{"type": name, field: value, ...}` as one generated expression, each field converted as its type says."""
    hints = typing.get_type_hints(cls)
    parts = [f"'type': {cls.__name__!r}"]
    for name in _fields(cls):
        kind = hints[name]
        if kind in (str, bool):
            parts.append(f"{name!r}: v.{name}")
        elif kind is int:
            parts.append(f"{name!r}: v.{name} if {-_INT64} <= v.{name} < {_INT64} else str(v.{name})")
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            parts.append(f"{name!r}: v.{name}.value")
        else:
            parts.append(f"{name!r}: data(v.{name})")
    code = f"lambda v: {{{', '.join(parts)}}}"
    writer: Convert = eval(code, {"data": _data})
    return writer


def _same(value: Any) -> Any:
    return value


def _reader(expected: Any) -> Convert:
    try:
        reader = _READERS.get(expected)
    except TypeError:  # an unhashable annotation
        return _compile(expected)
    if reader is None:
        reader = _READERS[expected] = _compile(expected)
    return reader


def _compile(expected: Any) -> Convert:
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        kinds = [arg for arg in args if arg is not type(None)]
        if len(kinds) > 1 or _is_record(kinds[0]):
            return _any  # records say their own type
        inner = _reader(kinds[0])
        return lambda data: None if data is None else inner(data)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _reader(args[0])
            return lambda data: tuple(item(x) for x in data)
        items = [_reader(arg) for arg in args]
        return lambda data: tuple(read(x) for read, x in zip(items, data, strict=True))
    if origin is list:
        item = _reader(args[0])
        return lambda data: [item(x) for x in data]
    if isinstance(expected, type) and issubclass(expected, enum.Enum | Decimal):
        return expected
    if expected is int:
        return _int
    if _is_record(expected):
        return _any
    return _any


def _int(data: Any) -> Any:
    return int(data) if data.__class__ is str else data


def _is_record(kind: Any) -> bool:
    return isinstance(kind, type) and RECORDS.get(kind.__name__) is kind


def _any(data: Any) -> Any:
    """A value of unstated type: a record (it names its class), a tuple of such values, or a plain value."""
    if isinstance(data, dict):
        name = data["type"]
        record = _RECORD_READERS.get(name)
        if record is None:
            record = _RECORD_READERS[name] = _record_reader(RECORDS[name])
        return record(data)
    if isinstance(data, list):  # a tuple of unstated type: an answer like `(Listings, (Depth, ...))`
        return tuple(_any(item) for item in data)
    return data


def _record_reader(cls: type[Any]) -> Convert:
    """`cls(field=..., ...)` as one generated call, each field read as its type says."""
    hints = typing.get_type_hints(cls)
    scope: dict[str, Any] = {"cls": cls}
    parts = []
    for n, name in enumerate(_fields(cls)):
        kind = hints[name]
        if kind in (str, bool):
            parts.append(f"{name}=d[{name!r}]")
        else:
            scope[f"read{n}"] = _reader(kind)
            parts.append(f"{name}=read{n}(d[{name!r}])")
    reader: Convert = eval(f"lambda d: cls({', '.join(parts)})", scope)
    return reader


def _fields(cls: type[Any]) -> tuple[str, ...]:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return tuple(cls._fields)


_WRITERS: dict[type[Any], Convert] = {}
_READERS: dict[Any, Convert] = {}
_RECORD_READERS: dict[str, Convert] = {}
