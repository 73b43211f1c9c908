"""A stand-in service for the crash and fault tests: the engine actor and the writer behind a socket.

Run as `python tests/persistence/harness.py DATABASE_URL`. It rebuilds the engine from
the database (`load_engine`), runs `EngineActor` with `Writer.commit` exactly as the
real service composes them, listens on a free TCP port of 127.0.0.1 and prints
`READY <port>` on stdout. Clients speak newline-delimited JSON, one request at a time
per connection; a request names an `op` and the command's fields in engine units:

    {"op": "place", "account_id": 1, "symbol": "SOL_USDC", "side": "Bid", "order_type": "Limit", ...}
    -> {"events": [{"type": "OrderAccepted", ...}, ...]}       once committed
    -> {"error": "SERVICE_UNAVAILABLE", "message": "..."}     refused or not committed

`{"op": "digest"}` answers the digest of the engine's committed state. The process
has no shutdown path on purpose: the tests end it with SIGKILL, like a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from decimal import Decimal
from functools import partial
from typing import Any

from exchange.config import Settings
from exchange.engine.actor import EngineActor, EngineUnavailableError
from exchange.engine.commands import AddAsset, AddMarket, CancelOrder, Command, Deposit, PlaceOrder
from exchange.engine.engine import Engine
from exchange.engine.events import Event
from exchange.engine.numbers import Asset, Market
from exchange.engine.orders import OrderType, SelfTradePrevention, Side, TimeInForce
from exchange.engine.queries import GetDigest
from exchange.persistence.database import open_database
from exchange.persistence.recovery import load_engine
from exchange.persistence.writer import Writer


def asset(fields: dict[str, Any]) -> Asset:
    """An asset from its JSON fields."""
    return Asset(symbol=fields["symbol"], decimals=fields["decimals"])


def command_of(request: dict[str, Any], ts: int) -> Command:
    """The engine command a request asks for, stamped with `ts`."""
    op = request["op"]
    if op == "add_asset":
        return AddAsset(asset=asset(request["asset"]), ts=ts)
    if op == "add_market":
        m = request["market"]
        return AddMarket(
            market=Market(
                symbol=m["symbol"],
                base=asset(m["base"]),
                quote=asset(m["quote"]),
                tick_size=Decimal(m["tick_size"]),
                step_size=Decimal(m["step_size"]),
                min_quantity=Decimal(m["min_quantity"]),
                maker_fee_bps=m["maker_fee_bps"],
                taker_fee_bps=m["taker_fee_bps"],
            ),
            ts=ts,
        )
    if op == "deposit":
        return Deposit(**_given(request, "account_id asset amount transfer_id"), ts=ts)
    if op == "place":
        return PlaceOrder(
            account_id=request["account_id"],
            symbol=request["symbol"],
            side=Side(request["side"]),
            order_type=OrderType(request["order_type"]),
            quantity=request.get("quantity"),
            quote_quantity=request.get("quote_quantity"),
            price=request.get("price"),
            time_in_force=TimeInForce(request.get("time_in_force", "GTC")),
            post_only=request.get("post_only", False),
            self_trade_prevention=SelfTradePrevention(request.get("self_trade_prevention", "RejectTaker")),
            client_id=request.get("client_id"),
            ts=ts,
        )
    if op == "cancel":
        return CancelOrder(**_given(request, "account_id symbol order_id client_id"), ts=ts)
    raise ValueError(f"unknown op {op!r}")


def _given(request: dict[str, Any], names: str) -> dict[str, Any]:
    """The request's fields of these names (space-separated) that it gives, as the command's keywords."""
    return {name: request[name] for name in names.split() if name in request}


def plain(value: Any) -> Any:
    """`value` with dataclasses and named tuples (such as `OrderSpec`) turned into dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def event_json(event: Event) -> dict[str, Any]:
    """An event as JSON-ready fields plus its type name."""
    return {"type": type(event).__name__, **plain(event)}


async def answer(actor: EngineActor, request: dict[str, Any]) -> dict[str, Any]:
    """Run one request through the actor; only committed outcomes come back as events."""
    try:
        if request["op"] == "digest":
            return {"digest": await actor.query(GetDigest())}
        command = command_of(request, time.time_ns() // 1000)
        return {"events": [event_json(e) for e in await actor.submit(command)]}
    except EngineUnavailableError as error:
        return {"error": "SERVICE_UNAVAILABLE", "message": str(error)}


async def session(actor: EngineActor, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve one client connection until it closes."""
    with contextlib.suppress(ConnectionError):
        while line := await reader.readline():
            reply = await answer(actor, json.loads(line))
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            await writer.drain()
    writer.close()


async def main(url: str) -> None:
    """Rebuild the engine from `url`, run the actor, and serve clients forever."""
    async with open_database(Settings(database_url=url)) as db:
        writer = Writer(db)
        await writer.claim()

        async def reload() -> Engine:
            await writer.claim()
            return await load_engine(db)

        actor = EngineActor(
            commit=writer.commit, publish=lambda events: None, reload=reload, claimed=lambda: writer.holds_claim
        )
        await actor.start(await load_engine(db))
        server = await asyncio.start_server(partial(session, actor), "127.0.0.1", 0)
        print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
