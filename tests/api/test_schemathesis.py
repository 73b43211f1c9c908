"""Schemathesis fuzzes every operation of /openapi.json, signed: no 5xx, every reply matches its schema,
and a request valid by its schema is never refused for its form.

Each generated request is prepared exactly as it will be sent, then signed as a
Backpack client signs it: the params the server will parse (the JSON body object or
the query string) under the operation's instruction, by a key that may call it (the
operator's for `/admin/` routes and account creation, a funded trader's otherwise).
So the fuzzing reaches past authentication into every parser and the engine. A body
the server cannot parse as flat params goes unsigned; the server refuses it before
the signature. The fuzzing runs on a server of its own, so what it lists, halts or
revokes cannot disturb the other tests.

In positive mode (requests valid by the schema) a refusal must carry one of the codes
the operation documents in `x-refusals`: a domain reason (an unlisted market, an
off-tick price, insufficient funds, an unknown order), never INVALID_CLIENT_REQUEST or a
field's code for a value the schema allowed.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.api.auth import KeyPair
from exchange.protocol import decoding
from exchange.protocol.codes import ApiError
from tests.api.client import Client
from tests.api.conftest import _serve, _settings, list_markets

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20
INSTRUCTION = re.compile(r"Signed with instruction `(\w+)`")


@pytest.fixture(scope="module")
def fuzzed(database_name: str) -> Iterator[tuple[str, KeyPair, KeyPair]]:
    """A server of its own with two markets: its URL, the operator's key and a funded trader's key."""
    admin = KeyPair.generate()
    name = f"{database_name}_fuzz"
    for url in _serve(_settings(name, admin), name):
        operator = Client(url, admin)
        list_markets(operator)
        trader = Client(url, KeyPair.generate())
        reply = operator.post("/exchange/v1/accounts", "accountCreate", {"publicKey": trader.keys.public_key})
        assert reply.status_code == 200, reply.text
        for symbol, quantity in (("SOL", "100"), ("USDC", "10000")):
            trader.fund(symbol, quantity)
        yield url, admin, trader.keys


def _signed_params(request: requests.PreparedRequest) -> list[decoding.Params] | None:
    """The params the server will verify the signature over, or None if it will refuse the request before."""
    try:
        if request.method == "GET":
            return [decoding.query_fields(parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True))]
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        assert isinstance(body, bytes)
        value = decoding.load_json(body) if body.strip() else {}
        return (
            [decoding.scalar_params(item) for item in value]
            if isinstance(value, list)
            else [decoding.scalar_params(value)]
        )
    except ApiError:
        return None


def _fuzz(
    operation: Any, mode: GenerationMode, url: str, keys: KeyPair, session: requests.Session
) -> tuple[list[int], int, list[str]]:
    """Fuzz one operation in one mode, signing what can be signed: the statuses seen, how many were signed,
    and the refusals of schema-valid requests for a reason the operation does not document."""
    found = INSTRUCTION.search(operation.definition.raw.get("description", ""))
    instruction = found.group(1) if found else None
    refusals = set(operation.definition.raw["x-refusals"])
    statuses: list[int] = []
    rejected: list[str] = []
    signed = 0

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode))
    def fuzz(case: Any) -> None:
        nonlocal signed
        prepared = requests.Request(**case.as_transport_kwargs(base_url=url)).prepare()
        params = _signed_params(prepared) if instruction else None
        if instruction and params is not None:
            prepared.headers.update(keys.headers(instruction, params))
            signed += 1
        response = session.send(prepared, timeout=10)
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        positive_refusal = mode is GenerationMode.POSITIVE and response.status_code >= 400
        if positive_refusal and response.json()["code"] not in refusals:
            rejected.append(f"{response.text} <- {prepared.url} {prepared.body!r}")

    fuzz()
    return statuses, signed, rejected


def test_openapi_fuzz_signed(fuzzed: tuple[str, KeyPair, KeyPair]) -> None:
    url, admin, trader = fuzzed
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 29
    session = requests.Session()
    failures: dict[str, list[str]] = {}
    for operation, mode in itertools.product(operations, GenerationMode):
        raw = operation.definition.raw
        if mode is GenerationMode.NEGATIVE and not (raw["parameters"] or "requestBody" in raw):
            continue  # nothing to make invalid
        admin_only = operation.path.startswith("/admin/") or operation.path == "/exchange/v1/accounts"
        started = time.monotonic()
        statuses, signed, rejected = _fuzz(operation, mode, url, admin if admin_only else trader, session)
        label = f"{operation.method.upper()} {operation.path} ({mode.value})"
        assert time.monotonic() - started < 60, label
        assert statuses and max(statuses) < 500, (label, statuses)
        assert signed or "security" not in raw, label
        if rejected:
            failures[label] = rejected[:3]
    assert not failures, "schema-valid requests rejected:\n" + "\n".join(f"{k}: {v}" for k, v in failures.items())
