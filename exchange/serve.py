"""Running the exchange as a process: logging, uvicorn, signals and the exit code.

`serve(settings)` is what `exchange serve` and `exchange demo` run, on a platform or a
laptop. uvicorn owns the socket and the signals. On SIGTERM (what Railway, Heroku and
`docker stop` send) or Ctrl-C it stops accepting connections, lets in-flight requests
finish (up to `GRACEFUL_SECONDS`), then runs the app's lifespan shutdown: the bots
stop, the engine actor refuses new commands, finishes and commits everything queued,
and the database closes. Only then does the process exit, with status 0.

uvicorn re-raises the signal it caught once it is done, so that an embedding program
sees it; the handlers installed here before uvicorn starts make that re-raise a no-op,
which is what turns a graceful stop into exit status 0 instead of death by signal.
Client addresses (for the per-IP rate limit and the request log) come from
`X-Forwarded-For` only when the peer is trusted: uvicorn reads the list of trusted
proxies from `FORWARDED_ALLOW_IPS` (default 127.0.0.1); behind a platform's router
set it to `*`, never on a directly exposed port.

HTTP connections run on `exchange.api.deadline.DeadlineProtocol`: a request not
received whole within `request_timeout` (EXCHANGE_REQUEST_TIMEOUT) gets 408 and its
connection is closed, so slow or stalled clients cannot hold sockets.
Websocket connections run on `exchange.streams.protocol.StreamProtocol`, which bounds
each socket's kernel send buffer and resets a connection whose peer stopped reading,
without permessage-deflate: the hub then writes each client's frames, framed once per
stream, straight to its socket (compression would frame them once per client), which
costs bandwidth and saves the CPU the one process needs.

A startup that fails (database unreachable, corrupt state refused by recovery, port
taken) exits with uvicorn's status 3, after it has logged why: for the failures an
operator fixes (`DatabaseUnavailableError`, `CorruptStateError`) the reason is one log line,
`error: <message>`, the same line `exchange db upgrade` prints; anything else keeps its
traceback. Once the server listens, it logs `ready at <URL>`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.config import Settings
from exchange.observability import configure_logging
from exchange.persistence.database import DatabaseUnavailableError
from exchange.persistence.recovery import CorruptStateError

log = logging.getLogger("exchange")

OPERATOR_ERRORS = (DatabaseUnavailableError, CorruptStateError)
"""Startup failures whose message says what to fix: logged as one line, without a traceback."""

GRACEFUL_SECONDS = 20
"""Longest wait for open connections on shutdown, inside the platforms' grace periods (Heroku: 30 s)."""


def _ignore(signum: int, frame: object) -> None:
    """Swallow the signal uvicorn re-raises after its graceful shutdown."""


class OneLineStartupErrors:
    """ASGI wrapper: a lifespan startup that fails with an `OPERATOR_ERRORS` is reported as one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent below, once the exception says which kind of failure it is
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except OPERATOR_ERRORS as error:
            log.error("error: %s", error)
            held[:] = [{"type": "lifespan.startup.failed", "message": ""}]
        finally:
            for message in held:
                await send(message)


async def _run(server: uvicorn.Server, url: str, announce: Callable[[], None] | None) -> None:
    async def when_started() -> None:
        while not server.started:
            await asyncio.sleep(0.05)
        log.info("ready at %s", url)
        if announce is not None:
            announce()

    watching = asyncio.create_task(when_started())
    try:
        await server.serve()
    finally:
        watching.cancel()


def build_server(settings: Settings, host: str, port: int) -> tuple[Starlette, uvicorn.Server]:
    """The exchange's app and the uvicorn server that runs it, configured as in production."""
    from exchange.api.deadline import deadline_protocol
    from exchange.app import create_app
    from exchange.streams.protocol import stream_protocol

    app = create_app(settings)
    config = uvicorn.Config(
        OneLineStartupErrors(app),
        host=host,
        port=port,
        lifespan="on",
        http=deadline_protocol(settings.request_timeout),
        ws=stream_protocol(settings.ws_send_buffer_bytes),
        ws_per_message_deflate=False,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    return app, uvicorn.Server(config)


def serve(settings: Settings, announce: Callable[[], None] | None = None) -> int:
    """Serve the exchange until a signal stops it; return the process exit status."""
    configure_logging(settings.log_level, settings.log_format)
    _, server = build_server(settings, settings.host, settings.port)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _ignore)
    asyncio.run(_run(server, settings.local_url, announce))
    return 0
