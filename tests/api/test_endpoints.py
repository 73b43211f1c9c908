"""The endpoint table is the one statement of the API: routes and OpenAPI are derived from it."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.responses import Response
from starlette.routing import Route

from exchange.api import capital, own, private, public
from exchange.api.routes import Call, routes
from exchange.app import routes as app_routes
from exchange.protocol.endpoints import ENDPOINTS, Tag
from exchange.protocol.openapi import document

API_PREFIXES = ("/api/", "/wapi/", "/exchange/", "/admin/")


def test_the_app_serves_exactly_the_table() -> None:
    served = [
        (method, route.path)
        for route in app_routes()
        if isinstance(route, Route) and route.path.startswith(API_PREFIXES)
        for method in sorted(route.methods or ())
        if method != "HEAD"
    ]
    assert served == [(e.method, e.path) for e in ENDPOINTS]


def test_the_document_is_the_table() -> None:
    paths = document()["paths"]
    operations = [(method.upper(), path) for path, item in paths.items() for method in item]
    assert sorted(operations) == sorted((e.method, e.path) for e in ENDPOINTS)
    for endpoint in ENDPOINTS:
        operation = paths[endpoint.path][endpoint.method.lower()]
        assert operation["tags"] == [endpoint.tag.value]
        assert ("security" in operation) == endpoint.signed == (endpoint.tag is not Tag.PUBLIC)
        if endpoint.signed:
            assert f"`{endpoint.instruction}`" in operation["description"]


def test_every_endpoint_needs_its_one_handler() -> None:
    handlers = {**public.HANDLERS, **private.HANDLERS, **capital.HANDLERS, **own.HANDLERS}
    assert len(handlers) == len(ENDPOINTS)
    del handlers[ENDPOINTS[0]]
    with pytest.raises(RuntimeError, match="without a handler"):
        routes(handlers)

    async def stray(call: Call) -> Response:
        return Response()

    with pytest.raises(RuntimeError, match="of no endpoint"):
        routes(
            {
                **public.HANDLERS,
                **private.HANDLERS,
                **capital.HANDLERS,
                **own.HANDLERS,
                dataclasses.replace(ENDPOINTS[0]): stray,
            }
        )
