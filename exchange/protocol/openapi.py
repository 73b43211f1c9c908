"""The OpenAPI 3.1 document, derived from the endpoint table and the messages it names.

Each operation comes from one `Endpoint`: its summary, its query parameters or body (the
schema of its `requests` message: exactly what its parser accepts, unknown body fields
refused), its reply (the `replies` components), its tag, the codes it may refuse a
well-formed request with (`x-refusals`, also listed in its description), and, for a
signed route, its instruction and the `ed25519` security scheme. Every operation lists
its error replies with the shared `Error` schema, whose `code` is one of `Code`. The test
suite runs schemathesis against this document: no 5xx, every reply conforms, and a
request valid by its schema is refused only with one of the operation's refusals.
"""

from __future__ import annotations

from exchange.protocol.endpoints import ENDPOINTS, Endpoint
from exchange.protocol.fields import REF, Schema, parameters, schemas
from exchange.protocol.replies import ERROR, REPLIES

ERROR_STATUSES = ("400", "401", "403", "404", "413", "415", "429", "503")
MESSAGES = schemas({message: None for e in ENDPOINTS for message in (e.query, e.body) if message is not None})
"""The request messages' components (and their enums'), in the table's order."""


def operation(endpoint: Endpoint) -> Schema:
    """The OpenAPI operation of one endpoint."""
    content_type = "text/plain" if endpoint.text else "application/json"
    responses: Schema = {"200": {"description": "OK", "content": {content_type: {"schema": endpoint.reply}}}}
    for status in ERROR_STATUSES:
        responses[status] = {"description": "Error", "content": {"application/json": {"schema": ERROR.ref}}}
    refusals = [code.value for code in endpoint.refusals]
    result: Schema = {
        "summary": endpoint.summary,
        "description": f"Refuses a well-formed request with: {', '.join(refusals) or 'nothing but auth and limits'}.",
        "tags": [endpoint.tag.value],
        "responses": responses,
        "parameters": [*endpoint.headers, *(parameters(endpoint.query, MESSAGES) if endpoint.query else ())],
        "x-refusals": refusals,
    }
    if endpoint.body is not None:
        body: Schema = {"$ref": REF.format(name=endpoint.body.__name__)}
        if endpoint.batch:
            body = {"type": "array", "items": body, "minItems": 1, "maxItems": endpoint.batch}
        result["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if endpoint.signed:
        result["description"] += f" Signed with instruction `{endpoint.instruction}`."
        result["security"] = [{"ed25519": []}]
    return result


def document() -> Schema:
    """The OpenAPI document of every endpoint."""
    replies = {reply.name: reply.schema() for reply in REPLIES}
    assert not replies.keys() & MESSAGES.keys(), "a request and a reply share a component name"
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
            "schemas": {**replies, **MESSAGES},
            "securitySchemes": {"ed25519": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }
