"""Decoding requests: the one gate every request's params pass, and the typed field readers.

Parsing is strict. A request body is decoded with `load_json`, which keeps the exact
text of every JSON number (so "0.10" stays "0.10" for the signature and for exact
conversion) and rejects NaN, Infinity and duplicate keys; it must be sent as
`application/json` (`check_media_type`: 415 otherwise). Every request's params, the
body object's or the query string's, then pass through `scalar_params`, the one gate
for text: each name and each value must be at most `MAX_TEXT_LENGTH` characters with
no control character (C0, DEL, C1), line or paragraph separator, bidirectional
override, or lone UTF-16 surrogate (`check_text`), or the request is a 400 INVALID_CLIENT_REQUEST. That happens
before the signature is checked and before anything is queued or stored, so no text a
client sends can break the signing payload, an error reply, a log line or a database
write (PostgreSQL refuses NUL in text). Fields with tighter rules (symbols, transfer ids,
labels, public keys) check them in their parsers, with the limits declared below. Every
time a request names is at most `MAX_TIME_MS`, a year before the last moment a
`datetime` can hold, so no window or candle computed from it overflows (400 otherwise).
`parse_decimal` accepts a JSON string or number only in plain decimal form (no
exponent, no sign but a leading minus, at most `MAX_NUMBER_LENGTH` characters);
anything else is a 400 with the code of the field. Converting the decimal to ticks, steps or atoms (and rejecting values
off the tick or the step) is left to `exchange.engine.numbers`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.protocol.codes import ApiError, Code, bad_request

MAX_NUMBER_LENGTH = 40
UINT32_MAX = 2**32 - 1
MAX_TEXT_LENGTH = 256
"""The longest text any param name or value may be; fields with tighter limits declare them below."""
FORBIDDEN_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
"""The ranges no text may hold (a regex class body): control characters (C0, DEL, C1), line and
paragraph separators, bidirectional embeddings, overrides and isolates (which reorder what a
log or a page shows), and lone UTF-16 surrogates."""
_FORBIDDEN_TEXT = re.compile(f"[{FORBIDDEN_CHARACTERS}]")
JSON_MEDIA_TYPE = "application/json"
MAX_TIME_MS = 253_370_764_800_000
"""9999-01-01T00:00:00Z, the latest time a request may name (in ms; klines' seconds are bounded by it too)."""

Json = dict[str, Any]
E = TypeVar("E", Side, OrderType, TimeInForce, SelfTradePrevention)


# -- decoding requests ---------------------------------------------------------------


class JsonNumber(str):
    """The exact source text of a JSON number (a `str`, so it signs and parses verbatim)."""

    __slots__ = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {check_text(key, 'a field name')}")
        result[key] = value
    return result


_DECODER = json.JSONDecoder(
    parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
)


def check_text(value: str, name: str) -> str:
    """`value` if it is at most `MAX_TEXT_LENGTH` characters of printable text; 400 otherwise."""
    if len(value) > MAX_TEXT_LENGTH:
        raise bad_request(f"{name} is longer than {MAX_TEXT_LENGTH} characters")
    if _FORBIDDEN_TEXT.search(value):
        raise bad_request(f"{name} contains a control character or a lone surrogate")
    return value


def check_media_type(content_type: str | None) -> None:
    """A request body must be declared JSON (any charset): 415 otherwise, so no other form is read as JSON."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise ApiError(415, Code.INVALID_CLIENT_REQUEST, f"the body must be sent as Content-Type: {JSON_MEDIA_TYPE}")


def load_json(body: bytes) -> Any:
    """Decode a request body, keeping numbers as their exact text; raise ApiError 400 if malformed."""
    try:
        return _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, RecursionError) as error:
        raise bad_request(f"malformed JSON body: {error}") from None


Scalar = str | bool | None
Params = dict[str, Scalar]


def scalar_params(value: Any) -> Params:
    """Check that a decoded body is a flat JSON object of scalars (what Backpack can sign), all of it `check_text`."""
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object")
    for key, item in value.items():
        check_text(key, "a field name")
        if isinstance(item, str):
            check_text(item, f"field {key}")
        elif not (item is None or isinstance(item, bool)):
            raise bad_request(f"field {key} must be a string, number or boolean")
    return value


def query_fields(items: Sequence[tuple[str, str]]) -> Params:
    """A query string's (name, value) pairs as flat params, through `scalar_params`; a repeated name is a 400."""
    params: Params = dict(items)
    if len(params) != len(items):
        raise bad_request("a query parameter is repeated")
    return scalar_params(params)


_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def parse_decimal(value: object, *, code: Code, name: str) -> Decimal:
    """A decimal from a JSON string or number in plain notation; ApiError(400, code) otherwise."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ApiError(400, code, f"{name} must be a decimal string")
    if len(value) > MAX_NUMBER_LENGTH:
        raise ApiError(400, code, f"{name} is longer than {MAX_NUMBER_LENGTH} characters")
    if not _PLAIN_DECIMAL.fullmatch(value):
        raise ApiError(400, code, f"{name} must be a plain decimal like 12.5, got {value!r}")
    return Decimal(value)


def parse_uint(value: object, *, name: str, maximum: int = UINT32_MAX) -> int:
    """A non-negative integer from a JSON number or digit string, at most `maximum`."""
    if isinstance(value, bool) or not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise bad_request(f"{name} must be a non-negative integer")
    if len(value) > MAX_NUMBER_LENGTH or int(value) > maximum:
        raise bad_request(f"{name} must be at most {maximum}")
    return int(value)


def parse_bool(value: object, *, name: str) -> bool:
    """A boolean from JSON true/false or the query strings "true"/"false"."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise bad_request(f"{name} must be true or false")


def parse_enum(kind: type[E], value: object, name: str) -> E:
    """One of an enum's wire values."""
    for member in kind:
        if value == member.value:
            return member
    allowed = ", ".join(m.value for m in kind)
    raise bad_request(f"{name} must be one of {allowed}")


def required(params: Mapping[str, Scalar], name: str) -> Scalar:
    """A field that must be present (and not null)."""
    value = params.get(name)
    if value is None:
        raise bad_request(f"missing field {name}")
    return value


def only_fields(params: Mapping[str, Scalar], allowed: Iterable[str], what: str) -> None:
    """Refuse fields a request does not take, so a client never believes an ignored field was heeded."""
    unknown = sorted(set(k for k, v in params.items() if v is not None) - set(allowed))
    if unknown:
        raise bad_request(f"unsupported {what} fields: {', '.join(unknown)}")
