"""The websocket endpoint: Backpack's stream protocol over Starlette/uvicorn, one socket per client.

Where. The endpoint answers websocket upgrades at `/` (Backpack's URL has no path, and
ccxt.pro uses `urls['api']['ws']` as is, so `ws://host:port` works unchanged), and at
`/ws` and `/stream` too; plain HTTP at `/` still gets the web page, because Starlette
routes by scope type. REST, page and streams share one port, which is what Railway
and Heroku give a process.

Why Starlette's ASGI websocket under uvicorn rather than a separate `websockets`
server: one port and one process, the app's lifespan starts and stops the streams with
the engine, and uvicorn's default websocket protocol is the `websockets` library's own
sans-I/O implementation, which frames, answers pings, pings every client every 20 s
and closes the connection when a pong is 20 s late (uvicorn's `ws_ping_interval` /
`ws_ping_timeout`). The endpoint is a raw ASGI app. Under `StreamProtocol` a connection
offers the hub its socket as a `Sink` (the `exchange.sink` scope extension), and data
frames, framed once for everyone, are written to it directly; elsewhere (another
server, or a negotiated compression) a data frame is one shared ASGI message, sent by
the client's writer task (see `exchange.streams.hub`).

Protocol (Backpack's websocket API, docs.backpack.exchange). `{"method": "SUBSCRIBE"|"UNSUBSCRIBE",
"params": [...], "id": n}`; no acknowledgement; data frames `{"stream", "data"}`.
Errors as Backpack sends them, `{"id": null, "error": {"code", "message"}}`: 4002
"Parse error" for text that is not JSON or not a well-formed request (the socket stays
open), 4006 "Invalid stream", 4008 "Invalid depth window", and, ours where Backpack's
documentation is silent, 4003 for a private subscription whose signature does not
verify or was used before (the private streams of that frame are not subscribed;
nothing is delivered), 4005 past the subscription cap, and 4013 (after the close code
1013, "try again later") when the signing key could not be looked up because the
database or the gateways' shared state (Redis) does not answer: the private streams are not subscribed, the socket stays
open, and the client subscribes again later. Private streams need
`"signature": [public key, signature, timestamp ms, window ms]` over
`instruction=subscribe&timestamp=..&window=..`, checked by the REST verifier
(`exchange.api.auth`) and bound to the key's account. Revoking a key ends the private
subscriptions it signed, with a 4003 error that names them (`key_revoked`), on every
gateway (`exchange.api.shared` says how; `recheck_keys` after a gateway lost Redis).

Closes, each with a reason: 1003 for a binary frame, 1009 for a frame over
`ws_max_frame_bytes`, 1008 after `ws_max_malformed` malformed frames, when the client's
outbox overflowed (a slow consumer, see `exchange.streams.hub`), or past
`ws_max_connections_per_ip` (all limits are `Settings` fields, `EXCHANGE_WS_*`). A slow
consumer's close frame usually cannot be written either (its socket is full): after
`ws_close_timeout` the handler returns, and under `exchange serve` the connection is then
reset and its kernel send buffer, bounded by `ws_send_buffer_bytes`, freed at once
(`exchange.streams.protocol`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import orjson
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import Receive, Scope, Send

from exchange.api.auth import Verifier
from exchange.api.errors import SharedStateUnavailableError
from exchange.config import Settings
from exchange.observability import WEBSOCKET_CONNECTIONS, WEBSOCKET_DROPPED
from exchange.persistence.database import DatabaseUnavailableError
from exchange.persistence.queries import Queries
from exchange.protocol import streams
from exchange.protocol.codes import ApiError, StreamCode
from exchange.protocol.requests import Scope as KeyScope
from exchange.streams.bus import Bus
from exchange.streams.feed import Feed, Query
from exchange.streams.hub import SINK_EXTENSION, Client, Hub, Sink
from exchange.streams.names import StreamError, Topic, parse_stream

log = logging.getLogger(__name__)

TOO_MANY_SUBSCRIPTIONS = 4005
SERVICE_UNAVAILABLE = 4013
Close = tuple[int, str]


class Streams:
    """The hub, the feed and the connection handler; started and stopped by the app's lifespan.

    Its limits are the `ws_*` fields of `Settings` (`EXCHANGE_WS_*`).
    """

    def __init__(self, *, bus: Bus, query: Query, queries: Queries, verifier: Verifier, settings: Settings) -> None:
        self.settings = settings
        self.hub = Hub()
        self.feed = Feed(self.hub, bus, query, queries)
        self.verifier = verifier
        self.connections: Counter[str] = Counter()
        self._signed_with: dict[str, set[Client]] = {}
        """Public key -> the clients holding a private subscription it signed."""
        self._rechecking: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Seed and start the feed."""
        await self.feed.start()

    async def stop(self) -> None:
        """Stop the feed and any recheck of keys (uvicorn closes the sockets with 1012 on shutdown)."""
        if self._rechecking is not None:
            self._rechecking.cancel()
            await asyncio.gather(self._rechecking, return_exceptions=True)
        await self.feed.stop()

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run one websocket connection from handshake to close."""
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        ip = str((scope.get("client") or ("unknown",))[0])
        if self.connections[ip] >= self.settings.ws_max_connections_per_ip:
            await self._close(send, (1008, "too many connections from this address"))
            return
        self.connections[ip] += 1
        WEBSOCKET_CONNECTIONS.inc()
        client = Client(self.settings.ws_max_queued_bytes, _sink(scope))
        writer = client.writer = asyncio.create_task(client.write(send))
        reader = asyncio.create_task(self._read(client, receive))
        close: Close | None = None
        try:
            await asyncio.wait((writer, reader), return_when=asyncio.FIRST_COMPLETED)
            if client.overflowed:
                WEBSOCKET_DROPPED.inc()
                close = (1008, "slow consumer: too many frames queued")
            elif reader.done() and not reader.cancelled() and reader.exception() is None:
                close = reader.result()
        finally:
            self.hub.drop(client)
            for _, public_key in client.private.values():
                signed = self._signed_with.get(public_key, set())
                signed.discard(client)
                if not signed:
                    self._signed_with.pop(public_key, None)
            self.connections[ip] -= 1
            WEBSOCKET_CONNECTIONS.dec()
            if not self.connections[ip]:
                del self.connections[ip]
            for task in (writer, reader):
                task.cancel()
            await asyncio.gather(writer, reader, return_exceptions=True)
            client.writer = client.sink = None
        if close is not None:
            await self._close(send, close)

    async def _close(self, send: Send, close: Close) -> None:
        try:
            async with asyncio.timeout(self.settings.ws_close_timeout):
                await send({"type": "websocket.close", "code": close[0], "reason": close[1]})
        except (TimeoutError, OSError, RuntimeError):
            pass

    async def _read(self, client: Client, receive: Receive) -> Close | None:
        malformed = 0
        signed: set[str] = set()
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return None
            text = message.get("text")
            if text is None:
                return 1003, "binary frames are not supported"
            if len(text) > self.settings.ws_max_frame_bytes:
                return 1009, f"frames are limited to {self.settings.ws_max_frame_bytes} bytes"
            request = _request(text)
            if request is None:
                malformed += 1
                if malformed > self.settings.ws_max_malformed:
                    return 1008, "too many malformed frames"
                self._error(client, StreamCode.PARSE_ERROR, "Parse error")
                continue
            await self._apply(client, request, signed)

    async def _apply(self, client: Client, request: dict[str, Any], signed: set[str]) -> None:
        """Subscribe or unsubscribe; `signed` holds the last signature this connection had accepted."""
        subscribe = request["method"] == "SUBSCRIBE"
        streams = []
        for name in request["params"]:
            try:
                streams.append(parse_stream(name))
            except StreamError as error:
                self._error(client, error.code, error.message)
        signer: tuple[int, str] | None = None
        if subscribe and any(s.private for s in streams):
            try:
                signer = await self._authenticate(request.get("signature"), signed)
            except (DatabaseUnavailableError, SharedStateUnavailableError):
                self._error(client, SERVICE_UNAVAILABLE, "Service unavailable: subscribe again later")
            else:
                if signer is None:
                    self._error(client, StreamCode.INVALID_SIGNATURE, "Invalid signature")
        for stream in streams:
            topic: Topic = stream.name
            if stream.private:
                owner = signer if subscribe else client.private.pop(stream.name, None)
                if owner is None:
                    continue
                if subscribe:
                    client.private[stream.name] = owner
                    self._signed_with.setdefault(owner[1], set()).add(client)
                topic = (stream.name, owner[0])
            if not subscribe:
                self.hub.unsubscribe(client, topic)
            elif topic in client.topics or len(client.topics) < self.settings.ws_max_subscriptions:
                self.hub.subscribe(client, topic)
            else:
                self._error(client, TOO_MANY_SUBSCRIPTIONS, "Too many subscriptions")
                return

    def _error(self, client: Client, code: int, message: str) -> None:
        self.hub.send(client, streams.stream_error_frame(code, message))

    def key_revoked(self, public_key: str) -> None:
        """End the private subscriptions that `public_key` signed, telling each client why."""
        for client in self._signed_with.pop(public_key, ()):
            ended = [name for name, (_, key) in client.private.items() if key == public_key]
            for name in ended:
                account, _ = client.private.pop(name)
                self.hub.unsubscribe(client, (name, account))
            if ended:
                self._error(client, StreamCode.INVALID_SIGNATURE, f"API key revoked: unsubscribed {', '.join(ended)}")

    def recheck_keys(self) -> None:
        """Look up again, in the background, every key that signed a live private subscription; end those revoked."""
        if self._rechecking is not None:
            self._rechecking.cancel()
        self._rechecking = (
            asyncio.create_task(self._recheck(), name="streams-recheck-keys") if self._signed_with else None
        )

    async def _recheck(self) -> None:
        while True:
            try:
                for public_key in list(self._signed_with):
                    if await self.verifier.lookup(public_key) is None:
                        self.key_revoked(public_key)
                return
            except (DatabaseUnavailableError, SharedStateUnavailableError) as error:
                log.warning("looking up the subscribed keys again failed (%s); retrying", error)
                await asyncio.sleep(1)

    async def _authenticate(self, signature: object, signed: set[str]) -> tuple[int, str] | None:
        """The account and public key of a valid `[key, signature, timestamp, window]`, or None.

        A signature is accepted once (`exchange.api.auth`), but the subscribe payload
        names no stream, so a client subscribing to two private streams in the same
        millisecond signs both frames alike (ccxt.pro's `watch_orders` and
        `watch_balance` do): the connection that had a signature accepted last may use
        it again; any other connection is refused.
        """
        if not (isinstance(signature, list) and len(signature) == 4):
            return None
        if not all(isinstance(part, str | int) and not isinstance(part, bool) for part in signature):
            return None
        key, sig, timestamp, window = (str(part) for part in signature)
        headers = {"x-api-key": key, "x-signature": sig, "x-timestamp": timestamp, "x-window": window}
        try:
            principal = await self.verifier.authenticate(
                headers, "subscribe", [], KeyScope.READ, once=sig not in signed
            )
        except ApiError:
            return None
        signed.clear()
        signed.add(sig)
        return principal.account_id, key


def _request(text: str) -> dict[str, Any] | None:
    """A well-formed SUBSCRIBE/UNSUBSCRIBE request, or None."""
    try:
        request = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(request, dict) or request.get("method") not in ("SUBSCRIBE", "UNSUBSCRIBE"):
        return None
    params = request.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        return None
    return request


def _sink(scope: Scope) -> Sink | None:
    """The connection's raw-frame sink when the server offers one (`exchange.streams.protocol`)."""
    extension = (scope.get("extensions") or {}).get(SINK_EXTENSION)
    sink: Sink | None = extension["sink"] if extension else None
    return sink


class StreamEndpoint:
    """The ASGI app of the websocket routes: hands the connection to the app's `Streams`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streams: Streams = scope["app"].state.streams
        await streams.serve(scope, receive, send)


ENDPOINT = StreamEndpoint()
ROUTES: list[BaseRoute] = [
    WebSocketRoute("/", ENDPOINT),
    WebSocketRoute("/ws", ENDPOINT),
    WebSocketRoute("/stream", ENDPOINT),
]
