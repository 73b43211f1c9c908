"""The operator's side of the CLI: signed calls to a running exchange's admin and user routes.

`exchange accounts create`, `keys add|list|revoke`, `deposit`, `withdrawals list|confirm|fail`,
`assets add` and `markets add` talk to a running exchange, whose engine owns the state; so they go
through its API like any client, signed with an ED25519 key (`KeyPair.headers`),
never around it into the database.
Failures become `RemoteError` with a message fit for a terminal: the server's error
code and message, or why the server could not be reached.
"""

from __future__ import annotations

from typing import Any

import httpx

from exchange.api.auth import KeyPair, SignedParams
from exchange.engine.errors import ExchangeError
from exchange.protocol import client
from exchange.protocol.endpoints import Endpoint


class RemoteError(ExchangeError):
    """A call to the exchange failed; the message says why."""


def call(
    url: str,
    key: KeyPair,
    endpoint: Endpoint,
    params: SignedParams,
    *,
    new_key: KeyPair | None = None,
) -> Any:
    """Send one signed request (with `new_key`'s proof of possession, if given) and return the decoded JSON reply.

    RemoteError on any failure.
    """
    headers = key.headers(endpoint.instruction, [params], new_key=new_key)
    try:
        with httpx.Client(base_url=url, timeout=15) as http:
            if endpoint.method == "GET":  # a GET's params are its query string
                response = http.request("GET", endpoint.path, params=params, headers=headers)
            else:
                response = http.request(endpoint.method, endpoint.path, json=params, headers=headers)
    except httpx.HTTPError as error:
        raise RemoteError(f"cannot reach the exchange at {url}: {error}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        refusal = client.error_of(body) if isinstance(body, dict) else None
        if refusal is not None:
            raise RemoteError(f"{response.status_code} {refusal[0]}: {refusal[1]}")
        raise RemoteError(f"{response.status_code}: {response.text[:200]}")
    return body
