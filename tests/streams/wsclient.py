"""A small websocket client for the stream tests (the `websockets` library), and market builders."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from exchange.api.auth import KeyPair
from tests.api.client import Client
from tests.api.conftest import Exchange

_names = itertools.count(1)
BARRIER_PROBE = "barrier"
INVALID_STREAM = {"id": None, "error": {"code": 4006, "message": "Invalid stream"}}


def ws_url(http_url: str) -> str:
    """The stream endpoint of a server: its root, as Backpack's URL has no path."""
    return http_url.replace("http://", "ws://", 1)


def signature(keys: KeyPair) -> list[str]:
    """The `signature` array of a private subscription, signed as Backpack's clients do."""
    headers = keys.headers("subscribe")
    return [headers["X-API-Key"], headers["X-Signature"], headers["X-Timestamp"], headers["X-Window"]]


class Socket:
    """One connection: send requests, read frames as JSON."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @staticmethod
    async def open(http_url: str, **options: Any) -> Socket:
        """Connect to the server's stream endpoint."""
        return Socket(await connect(ws_url(http_url), **options))

    async def send(self, request: dict[str, Any]) -> None:
        """Send one JSON request."""
        await self.connection.send(orjson.dumps(request).decode())

    async def subscribe(self, *streams: str, keys: KeyPair | None = None) -> None:
        """SUBSCRIBE to `streams`, signed with `keys` when given."""
        request: dict[str, Any] = {"method": "SUBSCRIBE", "params": list(streams), "id": 1}
        if keys is not None:
            request["signature"] = signature(keys)
        await self.send(request)

    async def barrier(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the server has handled every request sent before; return the frames that came first.

        Backpack acknowledges no subscription, but a connection's requests are handled in
        order, so the answer to a request for an invalid stream (4006) marks the point.
        """
        await self.subscribe(BARRIER_PROBE)
        frames: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while (frame := orjson.loads(await self.connection.recv())) != INVALID_STREAM:
                frames.append(frame)
        return frames

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame, decoded."""
        async with asyncio.timeout(timeout):
            frame: dict[str, Any] = orjson.loads(await self.connection.recv())
            return frame

    async def drain(self, seconds: float) -> list[dict[str, Any]]:
        """Every frame that arrives within `seconds`."""
        frames: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(seconds):
                while True:
                    frames.append(orjson.loads(await self.connection.recv()))
        except TimeoutError:
            return frames

    async def until(self, count: int, stream: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The data of the next `count` frames of `stream` (frames of other streams are skipped)."""
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(timeout):
            while len(found) < count:
                frame = await self.recv(timeout)
                if frame.get("stream") == stream:
                    found.append(frame["data"])
        return found

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()


def new_traders(exchange: Exchange, count: int, usdc: str) -> list[Client]:
    """Open `count` accounts, each funded with `usdc` USDC."""
    traders = [exchange.new_account() for _ in range(count)]
    for trader in traders:
        trader.fund("USDC", usdc)
    return traders


def new_market(exchange: Exchange, *traders: Client) -> str:
    """List a fresh market X<n>_USDC (ticks and steps of 0.01) and give each trader 1000 of its base."""
    base = f"X{next(_names)}{KeyPair.generate().public_key[:6].upper()}"
    base = "".join(ch for ch in base if ch.isalnum())
    reply = exchange.admin.post("/admin/v1/assets", "assetCreate", {"symbol": base, "decimals": 9})
    assert reply.status_code == 200, reply.text
    market = {"baseSymbol": base, "quoteSymbol": "USDC", "tickSize": "0.01", "stepSize": "0.01", "minQuantity": "0.01"}
    reply = exchange.admin.post("/admin/v1/markets", "marketCreate", market)
    assert reply.status_code == 200, reply.text
    for trader in traders:
        trader.fund(base, "1000")
    return f"{base}_USDC"


def limit(client: Client, symbol: str, side: str, price: str, quantity: str, **extra: Any) -> dict[str, Any]:
    """Place a limit order; return the reply."""
    reply = client.place(symbol=symbol, side=side, orderType="Limit", price=price, quantity=quantity, **extra)
    assert reply.status_code == 200, reply.text
    result: dict[str, Any] = reply.json()
    return result
