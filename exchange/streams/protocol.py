"""uvicorn's websocket protocol with the two socket-level bounds the fan-out needs.

The hub bounds what a client may have queued in the process (its outbox,
`EXCHANGE_WS_MAX_QUEUED_BYTES`), and the transport holds at most its 64 KiB write
buffer before it pauses the client's writer. Below both sits the kernel's send buffer,
and Linux autotunes that one up to `net.ipv4.tcp_wmem`'s maximum (4 MiB by default;
on loopback an accepted socket starts near that). A client that stops reading
therefore first parks up to 4 MiB of kernel memory before its outbox even begins to
fill, and at a realistic frame rate that takes minutes. `StreamProtocol` fixes the
kernel's share per connection:

- on upgrade it sets `SO_SNDBUF` of the connection's socket to `send_buffer_bytes`
  (`Settings.ws_send_buffer_bytes`, `EXCHANGE_WS_SEND_BUFFER_BYTES`, default 64 KiB;
  Linux doubles the value for its bookkeeping and stops autotuning that socket). A
  stuck client then costs at most the outbox bound plus the transport's buffer plus
  about twice this, and is dropped as soon as that much is published for it. 64 KiB
  is hundreds of market-data frames, and still 640 KB/s to a peer 200 ms away, far
  more than any stream sends. Plain HTTP connections are untouched: the option is set
  only on sockets upgraded to websocket.
- when the application returns while the transport is paused (the peer has stopped
  reading, so not even the close frame could be written, see `Streams.serve`), it
  aborts the connection with a reset (`SO_LINGER` 0) instead of uvicorn's plain
  `close()`, which would keep the socket, its buffers and its descriptor for as long
  as the peer keeps the TCP connection alive without reading.

It also offers the hub a `Sink` (`exchange.streams.hub`): in the connection's ASGI
scope, under the `exchange.sink` extension, when no per-message compression was
negotiated (then a server frame is the same bytes for every client). The hub writes
its joined, already framed data frames straight to the transport, only while the
websocket is open and the transport is not paused; uvicorn's own writes (the
handshake, pings, pongs, the close frame) are whole frames too, so frames never
interleave mid-frame, and the data frames carry no state of the sans-I/O protocol
(they are never fragmented or compressed).

Why here: uvicorn gives an ASGI application no access to its socket, and a listening
socket's options would reach every HTTP connection too; the websocket protocol class
is uvicorn's documented extension point (`Config(ws=...)`), and `exchange serve` passes
`stream_protocol(settings.ws_send_buffer_bytes)`.
"""

from __future__ import annotations

import socket
import struct
from asyncio import BaseTransport

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from exchange.streams.hub import SINK_EXTENSION

RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class StreamProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol with a bounded kernel send buffer and abort on a stuck close."""

    send_buffer_bytes = 0
    """`SO_SNDBUF` of an upgraded socket; 0 keeps the kernel's. `stream_protocol` makes a class with another."""

    def connection_made(self, transport: BaseTransport) -> None:
        """Take the connection over from the HTTP protocol and bound its socket's send buffer."""
        super().connection_made(transport)
        size = self.send_buffer_bytes
        sock = transport.get_extra_info("socket")
        if size and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def can_write(self) -> bool:
        """True while the websocket is open and the transport below its high-water mark."""
        return self.writable.is_set() and self.conn.state is State.OPEN and not self.transport.is_closing()

    def write_frames(self, data: bytes) -> None:
        """Write whole, already framed data frames."""
        self.transport.write(data)

    async def wait_writable(self) -> bool:
        """Wait until the transport drains below its low-water mark; False once the connection is closing."""
        await self.writable.wait()
        return self.conn.state is State.OPEN and not self.transport.is_closing()

    async def run_asgi(self) -> None:
        """Run the application (offering the sink); if it returned while the peer was not reading, reset."""
        extensions = self.scope.get("extensions")
        if extensions is not None and not self.conn.extensions:
            extensions[SINK_EXTENSION] = {"sink": self}
        try:
            await super().run_asgi()
        finally:
            if extensions is not None:
                extensions.pop(SINK_EXTENSION, None)
        if not self.writable.is_set() and not self.disconnected:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
            self.transport.abort()


def stream_protocol(send_buffer_bytes: int) -> type[StreamProtocol]:
    """A `StreamProtocol` class with this send buffer (0: the kernel's default), for `uvicorn.Config(ws=...)`."""
    return type("StreamProtocol", (StreamProtocol,), {"send_buffer_bytes": send_buffer_bytes})
