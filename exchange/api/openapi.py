"""The OpenAPI 3.1 description of every HTTP route, served at /openapi.json, and a docs page at /docs.

The schemas mirror what `exchange.protocol` produces (decimal strings, ms/µs integers, nullable
extras) and what the parsers accept, and every operation lists its error replies with
the shared `Error` schema; the test suite runs schemathesis against this document, so
a route that drifts from its description fails a test.

/docs renders the document with Swagger UI, whose files come from the `swagger-ui-py`
package (a dependency, not a copy in this repository) and are served from
`/docs/static/`: the page loads nothing from any other host, so the reference works
offline and behind firewalls. The spec validator badge, Swagger UI's one call out, is off.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from exchange.api.service import JsonResponse
from exchange.protocol.openapi import document

_DOCUMENT = document()

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exchange API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript>The API description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
});
</script>
</body></html>"""


async def openapi_json(request: Request) -> Response:
    """GET /openapi.json."""
    return JsonResponse(_DOCUMENT)


async def docs(request: Request) -> Response:
    """GET /docs: the API reference rendered from /openapi.json."""
    return HTMLResponse(DOCS_PAGE)


ROUTES: list[BaseRoute] = [
    Route("/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
    Route("/docs", docs, methods=["GET"], include_in_schema=False),
    Mount("/docs/static", app=StaticFiles(packages=[("swagger_ui", "static")]), name="docs-static"),
]
