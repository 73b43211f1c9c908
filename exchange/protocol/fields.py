"""Fields, declared once: the machinery every message of `messages` is stated in.

A request message (`Request`) is a tuple of `Field`s: each names its wire name, its
`Kind` (how its text is read, how a client writes it back, its JSON Schema), whether it
is required, and the Backpack `Code` a bad value gets; `Rule`s state what no single field
can (a limit order needs a price). From that one statement come the parser (`read`:
params in, a typed value out, every refusal a 400 with the field's code), the client's
inverse (`params`) and the OpenAPI schema (`schema` for a body, `parameters` for a query
string), so a request valid by its schema is never refused for its form. A body refuses
fields it does not declare (a client must not believe an ignored field was heeded); a
query string ignores them, as Backpack's does.

A reply message (`Reply`) is a tuple of `Out`s: a wire name, a schema, and a getter (or
a constant). `encode` builds the JSON object in the declared order from a template that
holds the constants, so the hot path is a dict copy and one call per computed field; the
reply's schema is the OpenAPI component of the same name.

Numbers keep their exact text: a decimal is read from the text the client signed
(`decoding.load_json` keeps JSON numbers as text) into an exact `Decimal`, and written
back with `dec`, never in exponent notation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, Generic, TypeVar

from exchange.protocol.codes import ApiError, Code, bad_request
from exchange.protocol.decoding import MAX_NUMBER_LENGTH, UNPRINTABLE, Json, Scalar

Schema = dict[str, Any]
T = TypeVar("T")


def dec(value: Decimal) -> str:
    """A decimal in plain notation, exactly as stored (never exponent notation)."""
    return format(value, "f")


# -- kinds: wire types -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    """A request field's wire type: `read` (text in, value out; ValueError says why not), `write`, its schema."""

    schema: Schema
    read: Callable[[Scalar], Any]
    write: Callable[[Any], Scalar] = str


def _string(value: Scalar) -> str:
    if type(value) is not str:
        raise ValueError("must be a string")
    return value


def text(*, max_length: int, min_length: int = 0, pattern: str | None = None) -> Kind:
    """A string of `min_length` to `max_length` characters, matching `pattern` if given (else any printable)."""
    matcher = re.compile(pattern) if pattern else None

    def read(value: Scalar) -> str:
        value = _string(value)
        if not min_length <= len(value) <= max_length or (matcher and not matcher.fullmatch(value)):
            raise ValueError(f"must be a string of {min_length} to {max_length} characters like {pattern or 'text'}")
        return value

    schema = {"type": "string", "minLength": min_length, "maxLength": max_length}
    return Kind({**schema, "pattern": f"^{pattern or f'[^{UNPRINTABLE}]*'}$"}, read)


_DECIMAL = re.compile(r"[0-9]*[1-9][0-9]*(?:\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*")


def _decimal(value: Scalar) -> Decimal:
    if not isinstance(value, str) or len(value) > MAX_NUMBER_LENGTH or not _DECIMAL.fullmatch(value):
        raise ValueError(f"must be a positive plain decimal like 12.5 of at most {MAX_NUMBER_LENGTH} characters")
    return Decimal(value)


DECIMAL_INPUT = Kind(
    {"type": "string", "pattern": f"^({_DECIMAL.pattern})$", "maxLength": MAX_NUMBER_LENGTH}, _decimal, dec
)
"""A positive decimal, sent as a string (or a JSON number) in plain notation."""


_INTEGER = re.compile(r"[0-9]+(?:\.0+)?")
"""A non-negative integer's text: digits, or a JSON number with a zero fraction (JSON Schema's 8.0 is an integer)."""


def uint(maximum: int, *, minimum: int = 0) -> Kind:
    """An integer in `[minimum, maximum]`, sent as a JSON number or a digit string."""

    def read(value: Scalar) -> int:
        if not isinstance(value, str) or len(value) > MAX_NUMBER_LENGTH or not _INTEGER.fullmatch(value):
            raise ValueError("must be a non-negative integer")
        number = int(value.partition(".")[0])
        if not minimum <= number <= maximum:
            raise ValueError(f"must be from {minimum} to {maximum}")
        return number

    digits = len(str(maximum)) - 1
    pattern = f"^[1-9][0-9]{{0,{digits - 1}}}$" if minimum else f"^[0-9]{{1,{digits}}}$"
    return Kind({"type": ["integer", "string"], "minimum": minimum, "maximum": maximum, "pattern": pattern}, read)


def choice(values: type[StrEnum] | tuple[str, ...]) -> Kind:
    """One of an enumeration's wire values (read as its member)."""
    members = {str(v): v for v in values}

    def read(value: Scalar) -> Any:
        if not isinstance(value, str) or value not in members:
            raise ValueError(f"must be one of {', '.join(members)}")
        return members[value]

    return Kind({"type": "string", "enum": list(members)}, read)


def _boolean(value: Scalar) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


def _write_bool(value: Any) -> Scalar:
    return bool(value)


BOOLEAN_INPUT = Kind({"type": "boolean"}, _boolean, _write_bool)


def _false(value: Scalar) -> bool:
    if _boolean(value):
        raise ValueError("is not supported on spot markets")
    return False


FALSE_ONLY = Kind({"enum": [False, "false"]}, _false, _write_bool)
"""A Backpack flag this exchange does not offer: accepted only when false."""


# -- request messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a request: wire name, kind, whether required, the code of a bad value, the parser's name."""

    name: str
    kind: Kind
    required: bool = False
    code: Code = Code.INVALID_CLIENT_REQUEST
    attr: str = ""
    """The keyword the typed value takes it as (default: the name in snake case; empty for a checked-only field)."""
    keep: bool = True

    def __post_init__(self) -> None:
        if not self.attr:
            object.__setattr__(self, "attr", snake(self.name))


@dataclass(frozen=True, slots=True)
class Rule:
    """What no single field says: when `when` holds, all of `required`, exactly one of `one_of`, none of `absent`.

    `when` is a field and the value it must have, or None for any value (the field given)."""

    message: str
    when: tuple[str, str | None] | None = None
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def check(self, params: Mapping[str, Scalar]) -> None:
        """400 INVALID_CLIENT_REQUEST with `message` if the params break the rule."""
        if self.when:
            name, value = self.when
            if params.get(name) is None or (value is not None and params[name] != value):
                return
        given = [name for name in self.one_of if params.get(name) is not None]
        if (
            any(params.get(name) is None for name in self.required)
            or (self.one_of and len(given) != 1)
            or any(params.get(name) is not None for name in self.absent)
        ):
            raise bad_request(self.message)

    def schema(self) -> Schema:
        """The rule as JSON Schema."""
        then: Schema = {"required": list(self.required)} if self.required else {}
        if self.one_of:
            then["oneOf"] = [{"required": [name]} for name in self.one_of]
        if self.absent:
            then["not"] = {"anyOf": [{"required": [name]} for name in self.absent]}
        if self.when is None:
            return then
        name, value = self.when
        condition: Schema = {"required": [name]}
        if value is not None:
            condition["properties"] = {name: {"const": value}}
        return {"if": condition, "then": then}


@dataclass(frozen=True, slots=True)
class Request(Generic[T]):
    """A request message: its fields, its rules, and the typed value `read` builds (`into`)."""

    into: Callable[..., T]
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    closed: bool = True
    """Refuse fields not declared (a body); a query string ignores them."""
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(f.name for f in self.fields))

    def read(self, params: Mapping[str, Scalar]) -> T:
        """The typed value of `params`; ApiError 400 with the field's code for the first bad field."""
        if self.closed and not params.keys() <= self.names:
            unknown = sorted(k for k in params.keys() - self.names if params[k] is not None)
            if unknown:
                raise bad_request(f"unsupported fields: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for one in self.fields:
            value = params.get(one.name)
            if value is None:
                if one.required:
                    raise ApiError(400, one.code, f"missing field {one.name}")
                continue
            try:
                read = one.kind.read(value)
            except ValueError as error:
                raise ApiError(400, one.code, f"{one.name} {error}") from None
            if one.keep:
                values[one.attr] = read
        for rule in self.rules:
            rule.check(params)
        return self.into(**values)

    def params(self, value: object) -> dict[str, Scalar]:
        """The wire params of a typed value (the client's side): the inverse of `read`."""
        wire: dict[str, Scalar] = {}
        for one in self.fields:
            got = getattr(value, one.attr, None) if one.keep else None
            if got is not None:
                wire[one.name] = one.kind.write(got)
        return wire

    def schema(self) -> Schema:
        """The JSON Schema of a body of this message."""
        result: Schema = {
            "type": "object",
            "properties": {f.name: f.kind.schema for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
            "additionalProperties": False,
        }
        if self.rules:
            result["allOf"] = [rule.schema() for rule in self.rules]
        return result

    def parameters(self) -> list[Schema]:
        """The OpenAPI query parameters of this message (one exploded object where rules bind its fields)."""
        if self.rules:
            return [
                {
                    "name": "params",
                    "in": "query",
                    "required": True,
                    "style": "form",
                    "explode": True,
                    "schema": self.schema(),
                }
            ]
        return [{"name": f.name, "in": "query", "required": f.required, "schema": f.kind.schema} for f in self.fields]


# -- reply messages --------------------------------------------------------------------

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
COUNT: Schema = {"type": "string", "pattern": "^[0-9]+$"}
MS: Schema = {"type": "integer", "description": "milliseconds"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null."""
    return {**schema, "type": [schema["type"], "null"]}


def array(items: Schema) -> Schema:
    """An array schema."""
    return {"type": "array", "items": items}


def enum(values: type[StrEnum] | tuple[str, ...]) -> Schema:
    """A string among `values`."""
    return {"type": "string", "enum": [str(v) for v in values]}


@dataclass(frozen=True, slots=True)
class Out(Generic[T]):
    """One field of a reply: its wire name, its schema, and its getter (None: always `const`)."""

    name: str
    schema: Schema
    get: Callable[[T], Any] | None = None
    const: Any = None


def const(name: str, value: Any = None) -> Out[Any]:
    """A field every reply holds with the same value (null by default)."""
    return Out(name, {"type": "null"} if value is None else {"const": value}, const=value)


def snake(name: str) -> str:
    """A wire name in Python's spelling: `quoteVolume` -> `quote_volume`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def attr(name: str, schema: Schema, path: str = "") -> Out[Any]:
    """A field that is an attribute of the value: `path` (dotted), by default the name in snake case."""
    return Out(name, schema, attrgetter(path or snake(name)))


def decimals(names: str) -> tuple[Out[Any], ...]:
    """Decimal fields, named space-separated, each the value's attribute of the same name in snake case."""

    def out(name: str) -> Out[Any]:
        get = attrgetter(snake(name))
        return Out(name, DECIMAL, lambda value: dec(get(value)))

    return tuple(out(name) for name in names.split())


def nulls(names: str) -> tuple[Out[Any], ...]:
    """Fields every reply holds as null (Backpack's features this exchange does not have), named space-separated."""
    return tuple(const(name) for name in names.split())


class Reply(Generic[T]):
    """A reply message: `encode` builds its JSON object, `schema` documents it, both from its `Out`s."""

    def __init__(self, name: str, *fields: Out[T]) -> None:
        self.name = name
        self.fields = fields
        self.ref: Schema = {"$ref": f"#/components/schemas/{name}"}
        self._template = {f.name: f.const for f in fields}
        self._computed = tuple((f.name, f.get) for f in fields if f.get is not None)

    def encode(self, value: T) -> Json:
        """The reply's JSON object for `value`, fields in the declared order."""
        fields = self._template.copy()
        for name, get in self._computed:
            fields[name] = get(value)
        return fields

    def schema(self) -> Schema:
        """The reply's JSON Schema: every field present."""
        return {
            "type": "object",
            "properties": {f.name: f.schema for f in self.fields},
            "required": [f.name for f in self.fields],
        }
