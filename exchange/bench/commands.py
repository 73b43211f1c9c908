"""`exchange bench <name>` (also `python -m exchange.bench <name>`): the benchmarks' commands.

Each imports its benchmark only when run, so the CLI starts without loading any of them.
"""

from __future__ import annotations

import typer

HELP = "Benchmarks that print figures beside a ceiling from the same run."
bench = typer.Typer(no_args_is_help=True, help=HELP, callback=lambda: None)


@bench.command("engine")
def bench_engine(
    orders: int = typer.Option(200_000, help="Orders in the workload."),
    seed: int = typer.Option(7, help="Workload seed."),
) -> None:
    """Matching engine with balances against a bare sortedcontainers matcher."""
    from exchange.bench.engine import main as run

    run(orders=orders, seed=seed)


WORKLOAD_ORDERS = typer.Option(100_000, help="Order commands in the workload.")
WORKLOAD_SEED = typer.Option(7, help="Workload seed.")
SCRATCH_SERVER = typer.Option(
    None, "--database-url", envvar="DATABASE_URL", help="Server to use (scratch databases are made and dropped)."
)
MEASUREMENT_SECONDS = typer.Option(10.0, help="Duration of each measurement.")


@bench.command("persist")
def bench_persist(
    orders: int = WORKLOAD_ORDERS,
    batch: int = typer.Option(1_000, help="Commands per committed batch (the engine actor's largest batch)."),
    seed: int = WORKLOAD_SEED,
    database_url: str | None = SCRATCH_SERVER,
) -> None:
    """Durable orders/s and trades/s through the batched writer against a bare COPY of the same trades."""
    from exchange.bench.persist import main as run

    run(orders=orders, batch=batch, seed=seed, server_url=database_url)


@bench.command("redis")
def bench_redis(
    orders: int = WORKLOAD_ORDERS,
    window: int = typer.Option(2_000, help="Commands in flight at once (what many gateways keep queued)."),
    seed: int = WORKLOAD_SEED,
    database_url: str | None = SCRATCH_SERVER,
    redis_url: str | None = typer.Option(
        None, "--redis-url", help="Redis to use; default: a private redis-server on a free port."
    ),
) -> None:
    """Durable orders/s of an engine process fed through Redis without HTTP, beside the in-process actor."""
    from exchange.bench.redis import main as run

    run(orders=orders, window=window, seed=seed, server_url=database_url, redis_url=redis_url)


@bench.command("api")
def bench_api(
    clients: int = typer.Option(16, help="Concurrent signed clients, one connection and account each."),
    seconds: float = MEASUREMENT_SECONDS,
    gateways: int = typer.Option(
        0, help="Also run one engine with 1..N gateways over a private Redis, beside the single process.", min=0
    ),
    database_url: str | None = SCRATCH_SERVER,
) -> None:
    """Signed orders/s and latency over HTTP with persistence on, against a bare Starlette+uvicorn ceiling."""
    from exchange.bench import api

    if gateways:
        api.main_split(clients=clients, seconds=seconds, gateways=gateways, server_url=database_url)
    else:
        api.main(clients=clients, seconds=seconds, server_url=database_url)


@bench.command("latency")
def bench_latency(
    seconds: float = MEASUREMENT_SECONDS,
    database_url: str | None = SCRATCH_SERVER,
) -> None:
    """One signed durable order at a time (1 and 4 clients) beside a bare commit and a bare HTTP round trip."""
    from exchange.bench.latency import main as run

    run(seconds=seconds, server_url=database_url)


@bench.command("ws")
def bench_ws(
    clients: int = typer.Option(1_000, help="Websocket clients subscribed to depth and trades of one market."),
    seconds: float = MEASUREMENT_SECONDS,
    rest_clients: int = typer.Option(64, help="Signed REST connections placing orders while the clients listen."),
    rest_rate: float = typer.Option(400.0, help="Orders/s the REST connections offer in all (alike in either form)."),
    window: int = typer.Option(200, help="Frames the slowest client may lag the fastest before orders pause."),
    gateways: int = typer.Option(
        0, help="Spread the clients over N gateway processes with one engine process over a private Redis.", min=0
    ),
    database_url: str | None = SCRATCH_SERVER,
) -> None:
    """Frames/s to 1,000 websocket clients while orders flow, REST under that load, against a bare broadcast()."""
    from exchange.bench.ws import main as run

    run(
        clients=clients,
        seconds=seconds,
        rest_clients=rest_clients,
        rest_rate=rest_rate,
        window=window,
        gateways=gateways,
        server_url=database_url,
    )
