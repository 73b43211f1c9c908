"""uvicorn's HTTP protocol with a deadline on receiving each request, so slow clients cannot hold sockets.

uvicorn bounds the idle time between two requests of a keep-alive connection
(`timeout_keep_alive`) but not the time a client takes to send one: a connection that
sends half a request line, headers without their blank line, or a body shorter than
its Content-Length, and then nothing, is kept open forever, with its socket, its
buffers and, once the headers are in, the application task waiting for the body. A
few hundred of them exhaust a process's descriptors while costing the sender nothing.

`DeadlineProtocol` arms one timer per request: when the connection is made (a client
that connects and sends nothing is a slow client too; its first request must be in
within `request_timeout` of connecting) and at the first byte of each later request
(llhttp's `on_message_begin`). It is cancelled when the request is
complete (`on_message_complete`: headers and the whole body), when the connection is
upgraded to a websocket (whose own pings bound it from then on) and when the
connection is lost. When it fires, the request is answered with 408 and code TIMEOUT
(`Connection: close`), unless a response is already being written, and the connection
is closed. An application task waiting for the rest of the body then gets
`http.disconnect` and ends. Only receiving is bounded: a complete request may take
as long as its route needs, and the time between requests stays uvicorn's keep-alive.

Why here: the timer needs the parser's events, which uvicorn gives to its protocol
class only, and the protocol class is uvicorn's documented extension point
(`Config(http=...)`); `exchange serve` passes `deadline_protocol(request_timeout)`.
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def timeout_response(seconds: float) -> bytes:
    """The whole 408 reply sent to a request that did not arrive in time."""
    body = orjson.dumps({"code": "TIMEOUT", "message": f"the request was not received within {seconds:g} s"})
    head = f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"connection: close\r\n\r\n" + body


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection whose request is not received within `request_timeout`."""

    request_timeout = 10.0

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Accept the connection and give its first request `request_timeout` to arrive."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request starts: unless the connection's first deadline still runs, it has `request_timeout` to arrive."""
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_message_complete(self) -> None:
        """The request (headers and body) is in: no deadline until the next one begins."""
        super().on_message_complete()
        self._disarm()

    def handle_websocket_upgrade(self) -> None:
        """Hand the connection to the websocket protocol, whose pings bound it from now on."""
        self._disarm()
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(timeout_response(self.request_timeout))
        self.transport.close()


def deadline_protocol(request_timeout: float) -> type[DeadlineProtocol]:
    """A `DeadlineProtocol` class with this deadline, for `uvicorn.Config(http=...)`."""
    return type("DeadlineProtocol", (DeadlineProtocol,), {"request_timeout": request_timeout})
