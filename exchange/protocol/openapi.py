"""The OpenAPI 3.1 document, derived from the endpoint table and the message schemas.

Each operation comes from one `Endpoint`: its summary, parameters and body (with every
free-text string bounded as `decoding.check_text` bounds it, so a schema-valid text is
never refused), its reply, its tag, and, for a signed route, its instruction and the
`ed25519` security scheme. Every operation lists its error replies with the shared
`Error` schema, whose `code` is one of `Code`. The test suite runs schemathesis against
this document, so a route that drifts from its description fails a test.
"""

from __future__ import annotations

from typing import Any

from exchange.protocol import decoding
from exchange.protocol.endpoints import ENDPOINTS, Endpoint
from exchange.protocol.messages import SCHEMAS, Schema, ref

ERROR_STATUSES = ("400", "401", "403", "404", "413", "415", "429", "503")

TEXT_INPUT: Schema = {
    "maxLength": decoding.MAX_TEXT_LENGTH,
    "pattern": f"^[^{decoding.FORBIDDEN_CHARACTERS}]*$",
}
"""What every text a request sends obeys (`decoding.check_text`): its length limit and no control characters."""


def _input(schema: Any) -> Any:
    """A copy of a request's schema with `TEXT_INPUT` on each of its free-text strings."""
    if isinstance(schema, list | tuple):
        return [_input(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _input(value) for key, value in schema.items()}
    if copy.get("type") == "string" and not {"enum", "pattern", "const"} & copy.keys():
        copy.update(TEXT_INPUT)
    return copy


def operation(endpoint: Endpoint) -> Schema:
    """The OpenAPI operation of one endpoint."""
    content_type = "text/plain" if endpoint.text else "application/json"
    responses: Schema = {"200": {"description": "OK", "content": {content_type: {"schema": endpoint.reply}}}}
    for status in ERROR_STATUSES:
        responses[status] = {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
    result: Schema = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag.value],
        "responses": responses,
        "parameters": _input([*endpoint.headers, *endpoint.query]),
    }
    if endpoint.body is not None:
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": _input(endpoint.body)}}}
    if endpoint.signed:
        result["description"] = f"Signed with instruction `{endpoint.instruction}`."
        result["security"] = [{"ed25519": []}]
    return result


def document() -> Schema:
    """The OpenAPI document of every endpoint."""
    paths: dict[str, Schema] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Exchange API (Backpack Exchange v1 compatible)",
            "version": "1.0.0",
            "description": (
                "Backpack-compatible public and private REST API plus the exchange's own routes. Private "
                "requests are signed with ED25519 over `instruction=<instruction>&<sorted params>&timestamp=<ms>"
                "&window=<ms>` and carry X-API-Key, X-Signature, X-Timestamp and X-Window headers."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"ed25519": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }
