"""A small signed HTTP client for the tests, signing exactly as Backpack's clients do."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import orjson

from exchange.api.auth import KeyPair

Params = dict[str, Any]


def _signed_value(value: object) -> str | bool | None:
    if value is None or isinstance(value, str | bool):
        return value
    return str(value)


def signed_form(params: Params) -> dict[str, str | bool | None]:
    """The params as the signature sees them (numbers by their text)."""
    return {key: _signed_value(value) for key, value in params.items()}


def ok(reply: httpx.Response) -> Any:
    """The body of a 200 reply (anything else fails the test with the reply's text)."""
    assert reply.status_code == 200, reply.text
    return reply.json()


def refused(reply: httpx.Response, status: int, code: str) -> None:
    """Assert an error reply's status and Backpack code."""
    assert (reply.status_code, reply.json()["code"]) == (status, code), reply.text


class Client:
    """One key's view of a server."""

    def __init__(self, url: str, keys: KeyPair, account_id: int = 0) -> None:
        self.url = url
        self.keys = keys
        self.account_id = account_id
        self.http = httpx.Client(base_url=url, timeout=10)
        self._last_timestamp = 0

    def _timestamp(self) -> int:
        """Now in ms, after every timestamp this client signed: two requests alike stay two, never a replay."""
        self._last_timestamp = max(int(time.time() * 1000), self._last_timestamp + 1)
        return self._last_timestamp

    def request(
        self,
        method: str,
        path: str,
        instruction: str,
        params: Params | list[Params] | None = None,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        window: int = 5000,
        new_key: KeyPair | None = None,
    ) -> httpx.Response:
        """Send a signed request: params in the query of a GET, else as the JSON body."""
        batch = params if isinstance(params, list) else [params or {}]
        forms = [signed_form(p) for p in batch]
        stamp = self._timestamp() if timestamp is None else timestamp
        signed = self.keys.headers(instruction, forms, timestamp=stamp, window=window, new_key=new_key)
        signed.update(headers or {})
        if method == "GET":
            assert not isinstance(params, list)
            return self.http.request(method, path, params=params or {}, headers=signed)
        body = orjson.dumps(params if params is not None else {})
        signed["Content-Type"] = "application/json"
        return self.http.request(method, path, content=body, headers=signed)

    def get(self, path: str, instruction: str, params: Params | None = None) -> httpx.Response:
        """A signed GET."""
        return self.request("GET", path, instruction, params)

    def post(
        self, path: str, instruction: str, params: Params | list[Params], *, new_key: KeyPair | None = None
    ) -> httpx.Response:
        """A signed POST (with `new_key`'s proof of possession when it registers that key)."""
        return self.request("POST", path, instruction, params, new_key=new_key)

    def delete(self, path: str, instruction: str, params: Params) -> httpx.Response:
        """A signed DELETE with a JSON body."""
        return self.request("DELETE", path, instruction, params)

    def fund(self, symbol: str, quantity: str) -> None:
        """Deposit through the demo faucet."""
        reply = self.post(
            "/exchange/v1/capital/deposit",
            "deposit",
            {"symbol": symbol, "quantity": quantity, "transferId": uuid.uuid4().hex},
        )
        assert reply.status_code == 200, reply.text

    def balances(self) -> dict[str, Any]:
        """`/api/v1/capital`."""
        reply = self.get("/api/v1/capital", "balanceQuery")
        assert reply.status_code == 200, reply.text
        result: dict[str, Any] = reply.json()
        return result

    def place(self, **order: Any) -> httpx.Response:
        """POST /api/v1/order."""
        return self.post("/api/v1/order", "orderExecute", order)
