"""The HTTP API's routes, derived from the protocol's endpoint table, with their one preamble.

Every request to an endpoint runs the same steps, in an order that guarantees a refused
request changes nothing: read its params (the query string of a GET, the JSON body
otherwise, through the one text gate of `exchange.protocol.decoding`: a malformed request
is a 400 before anything else; a batch endpoint's body is an array of 1 to `batch`
objects), then, for a signed endpoint, verify the signature for the endpoint's own
instruction and the key's scope (401/403), charge the key's rate limit (429) and check
for a replay. Only then does the handler run, with a `Call` holding what the preamble
found. A public endpoint that declares no query parameters reads none (`/ping`, `/time`
ignore their query string, as Backpack's do). `accountCreate` authenticates itself (by
the key it registers in demo mode, or by an admin's), so the preamble only reads it.

`routes` refuses to build unless every endpoint of the table has exactly one handler, so
the table, the served routes and the OpenAPI document list the same operations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.api.auth import Principal
from exchange.api.service import Api, api_of
from exchange.protocol.codes import bad_request
from exchange.protocol.decoding import Params, scalar_params
from exchange.protocol.endpoints import ENDPOINTS, Endpoint


@dataclass(frozen=True, slots=True)
class Call:
    """One request past the preamble: its app's `Api`, its params (or batch) and who signed it."""

    request: Request
    api: Api
    params: Params
    batch: list[Params]
    """The items of a batch body, each a flat object (empty for any other endpoint)."""
    principal: Principal | None

    @property
    def signer(self) -> Principal:
        """Who signed the request (only a signed endpoint's handler asks)."""
        assert self.principal is not None, "a public endpoint has no signer"
        return self.principal


Handler = Callable[[Call], Awaitable[Response]]


async def _read(endpoint: Endpoint, api: Api, request: Request) -> tuple[Params, list[Params]]:
    if endpoint.batch:
        body = await api.body(request)
        if not isinstance(body, list) or not body or len(body) > endpoint.batch:
            raise bad_request(f"the body must be an array of 1 to {endpoint.batch} orders")
        return {}, [scalar_params(item) for item in body]
    if endpoint.signed or endpoint.query:
        return await api.params(request), []
    return {}, []


async def authenticate(api: Api, request: Request, endpoint: Endpoint, params: Sequence[Params]) -> Principal:
    """Verify a request's signature for the endpoint's instruction and scope (rate limit and replay check included)."""
    assert endpoint.scope is not None, f"{endpoint.path} is public"
    return await api.verifier.authenticate(request.headers, endpoint.instruction, params, endpoint.scope)


def route(endpoint: Endpoint, handler: Handler) -> Route:
    """The Starlette route of one endpoint: the preamble, then `handler`."""
    signed = endpoint.signed and not endpoint.self_signed

    async def serve(request: Request) -> Response:
        api = api_of(request)
        params, batch = await _read(endpoint, api, request)
        principal = await authenticate(api, request, endpoint, batch or [params]) if signed else None
        return await handler(Call(request, api, params, batch, principal))

    return Route(endpoint.path, serve, methods=[endpoint.method])


def routes(handlers: Mapping[Endpoint, Handler]) -> list[Route]:
    """Every endpoint's route, in the table's order; a missing or unknown handler is a bug caught at startup."""
    missing = [f"{e.method} {e.path}" for e in ENDPOINTS if e not in handlers]
    unknown = [f"{e.method} {e.path}" for e in handlers if e not in ENDPOINTS]
    if missing or unknown:
        raise RuntimeError(f"endpoints without a handler: {missing}; handlers of no endpoint: {unknown}")
    return [route(endpoint, handlers[endpoint]) for endpoint in ENDPOINTS]
