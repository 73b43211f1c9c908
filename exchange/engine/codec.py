"""One codec for the engine's interface: commands, queries, events and answers as JSON bytes and back.

Everything that crosses the engine's boundary is a record (or the `OrderSpec` named
tuple) made of ints, strings, booleans, enums, Decimals, tuples and other records, so
one generic rule serves them all, and a transport between processes needs nothing else.
msgspec does the work in C, with each record's declared field types as the schema:

- a record whose type the reader cannot know from a declaration is *tagged*: the
  one-key object `{"OrderAccepted": {...fields...}}`. That is every value handed to
  `encode` (a command, a query, an event, an answer) and every field declared as a
  union of records (`Rejected.command`); a tuple of such values is a list of them;
- a record at a field declared as one record type is its fields' object (a named tuple
  its array), untagged: the declaration says what it is;
- an enum is its value, a Decimal its exact string, a tuple a list (read as a tuple),
  an int a JSON integer of any size (msgspec reads and writes them exactly);
- decoding checks every field against its declared type, so `decode(encode(x)) == x`
  exactly, and anything else (bad JSON, an unknown or unexpected record type, a missing
  field, a wrong type, a value a record's own checks refuse) raises
  `msgspec.DecodeError`, a ValueError, and builds nothing. A field no record declares
  is ignored, as msgspec does.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Collection
from typing import Any

import msgspec

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

Raw = msgspec.Raw
"""Bytes `encode` made, to embed unchanged in a larger message (`msgspec.json.encode` writes them as they are)."""

_ENCODER = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    """`value` (a record, a tuple of records, None or a string) as JSON bytes."""
    return _ENCODER.encode(_tagged(value))


def join(pieces: Collection[bytes]) -> bytes:
    """The JSON list of pieces `encode` made, as `encode` of the tuple of their values would write it."""
    return b"[" + b",".join(pieces) + b"]"


def decode(raw: bytes | str, expected: Any = Any) -> Any:
    """The value `encode` wrote; `expected` (a record type, a union, `list[Event]`, ...) narrows what is accepted."""
    return reader(expected)(raw)


Read = Callable[[bytes | str], Any]


def reader(expected: Any) -> Read:
    """`decode` for one `expected` type, compiled once; a caller that decodes often keeps it (hashing types is slow)."""
    read = _READERS.get(expected)
    if read is None:
        read = _READERS[expected] = _compile(expected)
    return read


# Both directions are compiled once per type into plain functions around msgspec's.

_Tagged = dict[str, msgspec.Raw]
"""A tagged record as read first: its name, and its fields' JSON for the decoder of that record type."""


def _tagged(value: object) -> object:
    """`value` with every record whose type no declaration states wrapped as `{name: record}`."""
    tag = _TAGGERS.get(type(value))
    if tag is None:
        tag = _TAGGERS[type(value)] = _tagger(type(value))
    return tag(value)


def _tagger(cls: type[Any]) -> Callable[[Any], object]:
    if _is_record(cls):
        name, unions = cls.__name__, _union_fields(cls)
        if not unions:
            return lambda value: {name: value}
        fields = _fields(cls)

        def tag(value: Any) -> object:
            return {name: {f: _tagged(getattr(value, f)) if f in unions else getattr(value, f) for f in fields}}

        return tag
    if issubclass(cls, tuple | list):
        return lambda value: [_tagged(item) for item in value]
    return lambda value: value


def _compile(expected: Any) -> Read:
    if expected is Any:
        return _any
    records = _records_of(expected)
    if records is not None:
        optional = type(None) in typing.get_args(expected)
        one = _tag_reader(records)
        tagged = msgspec.json.Decoder(_Tagged | None if optional else _Tagged)
        return lambda raw: None if (value := tagged.decode(raw)) is None else one(value)
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (list, tuple) and (len(args) == 1 or args[1:] == (Ellipsis,)):
        item_records = _records_of(args[0])
        if item_records is not None and type(None) not in typing.get_args(args[0]):
            item = _tag_reader(item_records)
            items = msgspec.json.Decoder(list[_Tagged])
            build = list if origin is list else tuple
            return lambda raw: build([item(value) for value in items.decode(raw)])
    return msgspec.json.Decoder(expected).decode


def _records_of(kind: Any) -> Collection[type[Any]] | None:
    """The record types a tagged value at `kind` may name (a record, or a union of records and None); None otherwise."""
    if _is_record(kind):
        return [kind]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if all(_is_record(member) for member in members):
            return members
    return None


def _tag_reader(kinds: Collection[type[Any]]) -> Callable[[_Tagged], Any]:
    """Reads `{name: fields}` into the record it names, if that is one of `kinds`."""
    bodies = {cls.__name__: _body_reader(cls) for cls in kinds}

    def read(tagged: _Tagged) -> Any:
        try:
            ((name, body),) = tagged.items()
            read_body = bodies[name]
        except (ValueError, KeyError):
            raise msgspec.ValidationError(f"expected one of {sorted(bodies)} as {{type: fields}}") from None
        return read_body(body)

    return read


def _any(raw: bytes | str) -> Any:
    """A value of unstated type: a tagged record, a tuple of such values, or a plain value."""
    data = _ANY.decode(raw)
    if isinstance(data, dict):
        return _ANY_RECORD(data)
    if isinstance(data, list):  # an answer like `(Listings, (Depth, ...))`
        return tuple(_any(item) for item in data)
    return data


def _body_reader(cls: type[Any]) -> Read:
    """A record's fields read as their types say; a field declared as a union of records is itself tagged."""
    body = _BODIES.get(cls)
    if body is None:
        body = _BODIES[cls] = _compile_body(cls)
    return body


def _compile_body(cls: type[Any]) -> Read:
    unions = _union_fields(cls)
    if not unions:
        return msgspec.json.Decoder(cls).decode
    hints = typing.get_type_hints(cls)
    fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
    readers = {
        name: reader(hints[name]) if name in unions else msgspec.json.Decoder(hints[name]).decode
        for name in _fields(cls)
    }

    def read(raw: bytes | str) -> Any:
        values = fields.decode(raw)
        try:
            return cls(**{name: read_field(values[name]) for name, read_field in readers.items() if name in values})
        except TypeError as error:  # a field missing
            raise msgspec.ValidationError(f"{cls.__name__}: {error}") from None

    return read


def _union_fields(cls: type[Any]) -> dict[str, Collection[type[Any]]]:
    """The fields of `cls` declared as a union of several records, each with its members."""
    hints = typing.get_type_hints(cls)
    unions = {name: _records_of(hints[name]) for name in _fields(cls)}
    return {name: kinds for name, kinds in unions.items() if kinds is not None and len(kinds) > 1}


def _is_record(kind: Any) -> bool:
    return isinstance(kind, type) and RECORDS.get(kind.__name__) is kind


def _fields(cls: type[Any]) -> tuple[str, ...]:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return tuple(cls._fields)


_TAGGERS: dict[type[Any], Callable[[Any], object]] = {}
_READERS: dict[Any, Read] = {}
_BODIES: dict[type[Any], Read] = {}
_ANY = msgspec.json.Decoder(_Tagged | list[msgspec.Raw] | str | int | bool | None)
_ANY_RECORD = _tag_reader(RECORDS.values())
