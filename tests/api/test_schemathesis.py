"""Schemathesis fuzzes every operation of /openapi.json: no 5xx, and every reply matches its schema."""

from __future__ import annotations

import time
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Exchange

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
BUDGET_SECONDS = 50


def test_openapi_fuzz(exchange: Exchange) -> None:
    schema = schemathesis.openapi.from_url(f"{exchange.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 25
    deadline = time.monotonic() + BUDGET_SECONDS
    statuses: list[int] = []
    for operation in operations:
        if time.monotonic() > deadline:
            break

        @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            statuses.append(case.call_and_validate(base_url=exchange.url, checks=CHECKS).status_code)

        fuzz()
    assert len(statuses) >= 100 and max(statuses) < 500
