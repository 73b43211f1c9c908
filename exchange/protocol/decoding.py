"""Decoding requests: the one gate every request's params pass before any field is read.

A request body is decoded with `load_json`, which keeps the exact text of every JSON
number (so "0.10" stays "0.10" for the signature and for exact conversion) and rejects
NaN, Infinity and duplicate keys; it must be sent as `application/json`
(`check_media_type`: 415 otherwise). Every request's params, the body object's or the
query string's, then pass through `scalar_params`, the one gate for text: each name and
each value must be at most `MAX_TEXT_LENGTH` characters with no character of
`UNPRINTABLE` (control characters, line separators, bidirectional overrides) and no lone
UTF-16 surrogate (`check_text`), or the request is a 400 INVALID_CLIENT_REQUEST. That
happens before the signature is checked and before anything is queued or stored, so no
text a client sends can break the signing payload, an error reply, a log line or a
database write (PostgreSQL refuses NUL in text). Each field is then read by its message's
declaration (`fields`, `requests`); every time a request names is at most `MAX_TIME_MS`, a
year before the last moment a `datetime` can hold, so no window computed from it overflows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from exchange.protocol.codes import ApiError, Code, bad_request

MAX_NUMBER_LENGTH = 40
MAX_TEXT_LENGTH = 256
"""The longest text any param name or value may be; fields with tighter limits declare them below."""
UNPRINTABLE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""The ranges no text may hold (a regex class body): control characters (C0, DEL, C1), line and
paragraph separators, bidirectional embeddings, overrides and isolates (which reorder what a
log or a page shows); lone UTF-16 surrogates, which no JSON Schema string holds, neither."""
_FORBIDDEN_TEXT = re.compile(f"[{UNPRINTABLE}\\ud800-\\udfff]")
JSON_MEDIA_TYPE = "application/json"
MAX_TIME_MS = 253_370_764_800_000
"""9999-01-01T00:00:00Z, the latest time a request may name (in ms; klines' seconds are bounded by it too)."""

Json = dict[str, Any]


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
