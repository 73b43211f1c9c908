"""Fields, declared once: the machinery every message of `requests` and `replies` is stated in.

A request message is a `Message`, a msgspec Struct: each field is one annotated attribute
that states its wire name (the attribute in camelCase, or `field(name=...)`), its type
and limits (`Annotated[..., Meta(...)]`), whether it is required (no default), and the
Backpack `Code` a bad value gets (a `Code` in its annotation; INVALID_CLIENT_REQUEST
otherwise); `Rule`s state what no single field can (a limit order needs a price). From
that one statement come the parser (`Message.read`: params in, the typed message out,
every refusal a 400 with the field's code), the client's inverse (`params`) and the
JSON Schema of the OpenAPI document (`schemas`, `parameters`), so a request valid by its
schema is never refused for its form. A body refuses fields it does not declare (a
client must not believe an ignored field was heeded); a `Query` string ignores them, as
Backpack's does. A null is an absent field.

A reply message (`Reply`) is a tuple of `Out`s: a wire name, a schema, and a getter (or
a constant). `encode` builds the JSON object in the declared order from a template that
holds the constants, so the hot path is a dict copy and one call per computed field; the
reply's schema is the OpenAPI component of the same name.

Numbers keep their exact text: a decimal (`Positive`) is read from the text the client
signed (`decoding.load_json` keeps JSON numbers as text) into an exact `Decimal`, and
written back with `dec`, never in exponent notation; an integer or a boolean is read from
its JSON value or from its text (all a query string has), strictly (`_scalars`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache
from operator import attrgetter
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, get_args

import msgspec
import msgspec.inspect

from exchange.protocol.codes import ApiError, Code, bad_request
from exchange.protocol.decoding import MAX_NUMBER_LENGTH, UNPRINTABLE, Json, JsonNumber, Scalar

Schema = dict[str, Any]
T = TypeVar("T")
REF = "#/components/schemas/{name}"


def dec(value: Decimal) -> str:
    """A decimal in plain notation, exactly as stored (never exponent notation)."""
    return format(value, "f")


# -- request fields --------------------------------------------------------------------

_DECIMAL = re.compile(r"[0-9]*[1-9][0-9]*(?:\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*")


POSITIVE_TEXT: Schema = {"pattern": f"^({_DECIMAL.pattern})$", "maxLength": MAX_NUMBER_LENGTH}
Positive = Annotated[Decimal, msgspec.Meta(extra_json_schema=POSITIVE_TEXT)]
"""A positive decimal in plain notation, sent as a string or a JSON number, read from its exact text (`positive`)."""


def positive(value: Scalar) -> Decimal:
    """The exact decimal of a positive decimal's text; ValueError says why not."""
    if not isinstance(value, str) or len(value) > MAX_NUMBER_LENGTH or not _DECIMAL.fullmatch(value):
        raise ValueError(f"must be a positive plain decimal like 12.5 of at most {MAX_NUMBER_LENGTH} characters")
    return Decimal(value)


def text(max_length: int, min_length: int = 0, pattern: str | None = None) -> msgspec.Meta:
    """A string of `min_length` to `max_length` characters matching `pattern` (else any printable text)."""
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=f"^{pattern or f'[^{UNPRINTABLE}]*'}$")


def one_of(values: Iterable[str]) -> msgspec.Meta:
    """A string among `values` (a table's keys, where a `Literal` would restate them)."""
    names = list(values)
    return msgspec.Meta(pattern=f"^({'|'.join(map(re.escape, names))})$", extra_json_schema={"enum": names})


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
        """400 INVALID_CLIENT_REQUEST with `message` if the params (nulls left out) break the rule."""
        if self.when:
            name, value = self.when
            if name not in params or (value is not None and params[name] != value):
                return
        if (
            any(name not in params for name in self.required)
            or (self.one_of and sum(name in params for name in self.one_of) != 1)
            or any(name in params for name in self.absent)
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


# -- request messages ------------------------------------------------------------------

_FIELD = re.compile(r"at `\$\.([^`]+)`$|field `([^`]+)`$")
"""Where msgspec's ValidationError names the field: "... - at `$.price`" or "... required field `side`"."""


class Message(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    """A request body: its fields, its `rules`; `read` parses params into it, `params` writes it back."""

    rules: ClassVar[tuple[Rule, ...]] = ()

    @classmethod
    def read(cls, params: Mapping[str, Scalar]) -> Self:
        """The message of `params`; ApiError 400 with the field's code for a bad field, then the rules checked."""
        scalars, codes = _scalars(cls), _codes(cls)
        given: dict[str, Any] = {}
        for name, value in params.items():
            if value is not None:
                try:
                    given[name] = scalars[name](value) if name in scalars else _string(value)
                except ValueError as error:
                    raise ApiError(400, codes.get(name, Code.INVALID_CLIENT_REQUEST), f"{name} {error}") from None
        try:
            message = msgspec.convert(given, cls)
        except msgspec.ValidationError as error:
            found = _FIELD.search(str(error))
            code = codes.get(found[1] or found[2], Code.INVALID_CLIENT_REQUEST) if found else None
            raise ApiError(400, code or Code.INVALID_CLIENT_REQUEST, str(error)) from None
        for rule in cls.rules:
            rule.check(given)
        return message

    def params(self) -> dict[str, Scalar]:
        """The wire params of this message (the client's side): the inverse of `read`, defaults left out."""
        wire: dict[str, Any] = msgspec.to_builtins(self, builtin_types=(Decimal,))
        return {name: _text(value) for name, value in wire.items()}


def _text(value: Any) -> Scalar:
    """A param's wire form: decimals in plain notation, integers as digits, strings and booleans as they are."""
    if isinstance(value, Decimal):
        return dec(value)
    return str(value) if type(value) is int else value


class Query(Message, forbid_unknown_fields=False):
    """A query string's message: fields it does not declare are ignored, as Backpack's are."""


_INTEGER = re.compile(r"[0-9]+(?:\.0+)?")
"""A non-negative integer's text: digits, or a JSON number with a zero fraction (JSON Schema's 8.0 is an integer)."""


def _integer(value: Scalar) -> int:
    if not isinstance(value, str) or len(value) > MAX_NUMBER_LENGTH or not _INTEGER.fullmatch(value):
        raise ValueError("must be a non-negative integer")
    return int(value.partition(".")[0])


def _string(value: Scalar) -> Scalar:
    """A text field's value: a JSON number is not a string (msgspec would take its text for one)."""
    if type(value) is JsonNumber:
        raise ValueError("must be a string")
    return value


def _boolean(value: Scalar) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("must be true or false")


@cache
def _scalars(message: type[Message]) -> dict[str, Callable[[Scalar], Any]]:
    """How each decimal, integer and boolean field is read from its JSON value or its text, by wire name (msgspec
    then checks its limits strictly; its own lax reading would take 1e3 for 1000 and 1 for true)."""
    readers: dict[str, Callable[[Scalar], Any]] = {}
    for f in msgspec.inspect.type_info(message).fields:  # type: ignore[attr-defined]
        for option in f.type.types if isinstance(f.type, msgspec.inspect.UnionType) else (f.type,):
            kind = option.type if isinstance(option, msgspec.inspect.Metadata) else option
            literal = kind.values[0] if isinstance(kind, msgspec.inspect.LiteralType) else None
            if isinstance(kind, msgspec.inspect.DecimalType):
                readers[f.encode_name] = positive
            elif isinstance(kind, msgspec.inspect.BoolType) or isinstance(literal, bool):
                readers[f.encode_name] = _boolean
            elif isinstance(kind, msgspec.inspect.IntType) or isinstance(literal, int):
                readers[f.encode_name] = _integer
    return readers


@cache
def _codes(message: type[Message]) -> dict[str, Code]:
    """The code of each field that names one in its annotation, by wire name."""
    return {f.encode_name: code for f in msgspec.structs.fields(message) if (code := _code_in(f.type)) is not None}


def _code_in(annotation: Any) -> Code | None:
    for arg in get_args(annotation):
        found = arg if isinstance(arg, Code) else _code_in(arg)
        if found is not None:
            return found
    return None


def schemas(messages: Iterable[type[Message]]) -> dict[str, Schema]:
    """The JSON Schema components of `messages`, with their rules, and of the enums they name.

    An optional field is documented without its null: the parser reads a null as absent, so a
    rule that needs a field (a limit order's price) would refuse a null the schema allowed."""
    types = tuple(messages)
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    for message in types:
        component = components[message.__name__]
        component["properties"] = {name: _present(schema) for name, schema in component["properties"].items()}
        if message.rules:
            component["allOf"] = [rule.schema() for rule in message.rules]
    return components


def parameters(message: type[Message], components: Mapping[str, Schema]) -> list[Schema]:
    """The OpenAPI query parameters of a message (one exploded object of its fields alone where rules bind them)."""
    component = components[message.__name__]
    if message.rules:
        schema = {**component, "additionalProperties": False}
        return [{"name": "params", "in": "query", "required": True, "style": "form", "explode": True, "schema": schema}]
    return [
        {"name": name, "in": "query", "required": name in component.get("required", ()), "schema": schema}
        for name, schema in component["properties"].items()
    ]


def _present(schema: Schema) -> Schema:
    """An optional field's schema without its null."""
    options = [option for option in schema.get("anyOf", ()) if option != {"type": "null"}]
    if not options:
        return schema
    present = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**present, **options[0]} if len(options) == 1 else {**present, "anyOf": options}


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
