"""What the crash and fault tests share: the harness process, a recorded workload, and the audit.

`Harness` runs `harness.py` (the engine actor and the writer behind a socket) as a
subprocess. Clients drive a random but seeded workload of orders and cancels through
it and `Acks` remembers every acknowledged outcome: for each order the most advanced
state a reply reported, every trade, every transfer. `audit` then reads the database
and checks it against those acknowledgements and against itself:

- every acknowledged order is stored with the acknowledged state or a later one
  consistent with it (more executed, never un-closed), every acknowledged trade and
  transfer is stored as acknowledged;
- nothing is half-applied: order and trade ids are gapless (each batch commits whole
  and in order), each order's executed totals are the sum of its trades, and each
  (account, asset) balance equals the replay of the stored history (transfers in,
  trades exchanged, fees to account 0), with locked equal to what its open orders
  reserve; so per asset the sum of balances is net deposits, to the atom;
- the engine rebuilt from the database (`load_engine`) passes its own checks; its
  digest is returned for comparison with the running service's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from exchange import demo
from exchange.engine.numbers import FEE_ACCOUNT, Asset
from exchange.engine.orders import Side, reservation
from exchange.engine.state import digest
from exchange.persistence import tables
from exchange.persistence.database import create_engine
from exchange.persistence.recovery import load_engine

HARNESS = Path(__file__).with_name("harness.py")

MARKETS = {market.symbol: market for market in demo.MARKETS}
MIDS = {symbol: market.ticks(demo.REFERENCE_PRICES[symbol]) for symbol, market in MARKETS.items()}
FUNDING = {"SOL": 50_000 * 10**9, "BTC": 100 * 10**8, "ETH": 5_000 * 10**8, "USDC": 10_000_000 * 10**6}
TERMINAL = {"Filled", "Cancelled", "Expired"}


class Harness:
    """The service stand-in as a subprocess on `url`; `kill()` is a SIGKILL, like a crash."""

    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start the process and wait until it listens."""
        with self.log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, str(HARNESS), self.url, stdout=asyncio.subprocess.PIPE, stderr=log
            )
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 60)
        assert line.startswith(b"READY "), f"harness did not start: {self.log.read_text()[-3000:]}"
        self.port = int(line.split()[1])

    async def kill(self) -> None:
        """SIGKILL the process and reap it."""
        assert self._process is not None
        self._process.kill()
        await self._process.wait()


class Client:
    """One connection to the harness, one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        """Open a connection to the harness on `port`."""
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send a request and return its reply; ConnectionError if the harness is gone."""
        self._writer.write(json.dumps(request).encode() + b"\n")
        await self._writer.drain()
        line = await self._reader.readline()
        if not line:
            raise ConnectionError("harness closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def close(self) -> None:
        """Close the connection."""
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


@dataclass(slots=True)
class AckedOrder:
    status: str
    executed: int
    executed_quote: int


@dataclass(slots=True)
class Acks:
    """Everything the service acknowledged, folded to the most advanced state seen."""

    orders: dict[int, AckedOrder] = field(default_factory=dict)
    trades: dict[int, dict[str, Any]] = field(default_factory=dict)
    transfers: set[str] = field(default_factory=set)
    successes: int = 0
    refusals: int = 0

    def record(self, events: list[dict[str, Any]]) -> None:
        """Fold the events of one acknowledged command."""
        self.successes += 1
        for event in events:
            kind = event["type"]
            if kind == "OrderAccepted":
                self.orders.setdefault(event["order"]["id"], AckedOrder("New", 0, 0))
            elif kind in ("OrderFilled", "OrderCancelled", "OrderExpired"):
                status = event["status"] if kind == "OrderFilled" else kind.removeprefix("Order")
                acked = self.orders.setdefault(event["order"]["id"], AckedOrder("New", 0, 0))
                if acked.status not in TERMINAL and event["executed"] >= acked.executed:
                    acked.status, acked.executed, acked.executed_quote = (
                        status,
                        event["executed"],
                        event["executed_quote"],
                    )
            elif kind == "TradeExecuted":
                self.trades[event["id"]] = event
            elif kind == "Deposited":
                self.transfers.add(event["transfer_id"])


def asset_json(asset: Asset) -> dict[str, Any]:
    return {"symbol": asset.symbol, "decimals": asset.decimals}


async def seed(port: int, accounts: Iterable[int]) -> Acks:
    """List the assets and markets and fund `accounts`, through the harness."""
    acks = Acks()
    client = await Client.connect(port)
    requests: list[dict[str, Any]] = [{"op": "add_asset", "asset": asset_json(a)} for a in demo.ASSETS]
    for m in MARKETS.values():
        market = {
            "symbol": m.symbol,
            "base": asset_json(m.base),
            "quote": asset_json(m.quote),
            "tick_size": str(m.tick_size),
            "step_size": str(m.step_size),
            "min_quantity": str(m.min_quantity),
            "maker_fee_bps": m.maker_fee_bps,
            "taker_fee_bps": m.taker_fee_bps,
        }
        requests.append({"op": "add_market", "market": market})
    for account in accounts:
        for symbol, amount in FUNDING.items():
            transfer = f"seed-{account}-{symbol}"
            requests.append(
                {"op": "deposit", "account_id": account, "asset": symbol, "amount": amount, "transfer_id": transfer}
            )
    for request in requests:
        reply = await client.call(request)
        assert "events" in reply and reply["events"][0]["type"] != "Rejected", reply
        acks.record(reply["events"])
    await client.close()
    return acks


def random_request(rng: random.Random, account: int, mine: list[int]) -> dict[str, Any]:
    """One random order or cancel of `account`; `mine` are its orders that may still rest."""
    symbol = rng.choice(list(MARKETS))
    if mine and rng.random() < 0.2:
        return {"op": "cancel", "account_id": account, "symbol": symbol, "order_id": rng.choice(mine)}
    side = rng.choice(["Bid", "Ask"])
    request: dict[str, Any] = {"op": "place", "account_id": account, "symbol": symbol, "side": side}
    roll = rng.random()
    if roll < 0.1:
        request |= {"order_type": "Market", "quantity": rng.randint(1, 300)}
        return request
    spread = rng.randint(-15, 15)
    request |= {
        "order_type": "Limit",
        "price": MIDS[symbol] + (spread if side == "Bid" else -spread),
        "quantity": rng.randint(1, 500),
        "time_in_force": "IOC" if roll < 0.2 else "GTC",
        "post_only": 0.2 <= roll < 0.25,
        "self_trade_prevention": rng.choice(["RejectTaker", "RejectMaker", "RejectBoth", "Allow"]),
    }
    if rng.random() < 0.1:
        request["client_id"] = rng.randint(1, 50)
    return request


async def drive(
    port: int, account: int, operations: int, rng: random.Random, acks: Acks, *, pause_on_refusal: float = 0.0
) -> None:
    """Send `operations` random requests as `account`, recording acknowledgements, until done or disconnected."""
    try:
        client = await Client.connect(port)
    except ConnectionError:
        return
    mine: list[int] = []
    try:
        for _ in range(operations):
            reply = await client.call(random_request(rng, account, mine))
            if "error" in reply:
                assert reply["error"] == "SERVICE_UNAVAILABLE", reply
                acks.refusals += 1
                await asyncio.sleep(pause_on_refusal)
                continue
            acks.record(reply["events"])
            for event in reply["events"]:
                if event["type"] == "OrderAccepted":
                    mine.append(event["order"]["id"])
            mine = [i for i in mine if acks.orders[i].status not in TERMINAL][-20:]
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    await client.close()


async def digest_of_service(port: int) -> str:
    """The running harness's digest of its engine's committed state."""
    client = await Client.connect(port)
    reply = await client.call({"op": "digest"})
    await client.close()
    return str(reply["digest"])


def count(value: Decimal, unit: Decimal) -> int:
    """`value / unit` as an exact int."""
    n = value / unit
    assert n == n.to_integral_value(), f"{value} is not a whole number of {unit}"
    return int(n)


async def audit(url: str, acks: Acks) -> str:
    """Check the database against `acks` and against itself; return the digest of the engine it rebuilds."""
    db = create_engine(url)
    try:
        async with db.connect() as connection:
            orders = {row.id: row for row in await connection.execute(select(tables.orders))}
            trades = {row.id: row for row in await connection.execute(select(tables.trades))}
            transfers = list(await connection.execute(select(tables.transfers)))
            balances = {(r.account_id, r.asset): r for r in await connection.execute(select(tables.balances))}
        engine = await load_engine(db)
    finally:
        await db.dispose()
    assert sorted(orders) == list(range(1, len(orders) + 1)), "order ids have a gap: a batch was half-applied"
    assert sorted(trades) == list(range(1, len(trades) + 1)), "trade ids have a gap: a batch was half-applied"
    atom = {a.symbol: a.atom for a in demo.ASSETS}

    for order_id, acked in acks.orders.items():
        row = orders.get(order_id)
        assert row is not None, f"acknowledged order {order_id} is missing"
        market = MARKETS[row.symbol]
        executed = count(row.executed_quantity, market.step_size)
        assert executed >= acked.executed, f"order {order_id} lost fills: {executed} < {acked.executed}"
        if acked.status in TERMINAL:
            stored = (row.status, executed, count(row.executed_quote_quantity, market.quote.atom))
            assert stored == (acked.status, acked.executed, acked.executed_quote), f"order {order_id}: {stored}"
    for trade_id, acked_trade in acks.trades.items():
        row = trades.get(trade_id)
        assert row is not None, f"acknowledged trade {trade_id} is missing"
        market = MARKETS[row.symbol]
        stored_trade = (
            count(row.price, market.tick_size),
            count(row.quantity, market.step_size),
            count(row.quote_quantity, market.quote.atom),
            row.maker_order_id,
            row.taker_order_id,
            count(row.maker_fee, atom[row.maker_fee_asset]),
            count(row.taker_fee, atom[row.taker_fee_asset]),
        )
        wanted = tuple(
            acked_trade[k]
            for k in (
                "price",
                "quantity",
                "quote_quantity",
                "maker_order_id",
                "taker_order_id",
                "maker_fee",
                "taker_fee",
            )
        )
        assert stored_trade == wanted, f"trade {trade_id}: stored {stored_trade}, acknowledged {wanted}"
    assert acks.transfers <= {t.transfer_id for t in transfers}, "an acknowledged deposit is missing"

    filled: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    total: dict[tuple[int, str], int] = defaultdict(int)
    for t in transfers:
        total[t.account_id, t.asset] += count(t.amount, atom[t.asset]) * (1 if t.kind == "deposit" else -1)
    for t in trades.values():
        market = MARKETS[t.symbol]
        steps, quote = count(t.quantity, market.step_size), count(t.quote_quantity, market.quote.atom)
        for order_id in (t.maker_order_id, t.taker_order_id):
            assert order_id in orders, f"trade {t.id} names a missing order {order_id}"
            filled[order_id][0] += steps
            filled[order_id][1] += quote
        base, quote_asset = market.base.symbol, market.quote.symbol
        maker_fee, taker_fee = count(t.maker_fee, atom[t.maker_fee_asset]), count(t.taker_fee, atom[t.taker_fee_asset])
        taker_buys = t.taker_side == Side.BID
        buyer, seller = (
            (t.taker_account_id, t.maker_account_id) if taker_buys else (t.maker_account_id, t.taker_account_id)
        )
        buyer_fee, seller_fee = (taker_fee, maker_fee) if taker_buys else (maker_fee, taker_fee)
        base_atoms = steps * market.base_atoms_per_step
        total[buyer, base] += base_atoms - buyer_fee
        total[buyer, quote_asset] -= quote
        total[seller, quote_asset] += quote - seller_fee
        total[seller, base] -= base_atoms
        total[FEE_ACCOUNT, base] += buyer_fee
        total[FEE_ACCOUNT, quote_asset] += seller_fee

    reserved: dict[tuple[int, str], int] = defaultdict(int)
    for row in orders.values():
        market = MARKETS[row.symbol]
        executed = count(row.executed_quantity, market.step_size)
        assert [executed, count(row.executed_quote_quantity, market.quote.atom)] == filled[row.id], (
            f"order {row.id}'s executed totals differ from its trades"
        )
        if row.order_type != "Limit":
            assert row.status in ("Filled", "Expired"), f"market order {row.id}: {row.status}"
            continue
        quantity = count(row.quantity, market.step_size)
        expected_status = {0: {"New"}, quantity: {"Filled"}}.get(executed, {"PartiallyFilled"})
        assert row.status in expected_status | {"Cancelled", "Expired"}, f"order {row.id}: {row.status}"
        if row.status in tables.OPEN_STATUSES:
            side = Side(row.side)
            paying = market.quote.symbol if side is Side.BID else market.base.symbol
            price = count(row.price, market.tick_size)
            reserved[row.account_id, paying] += reservation(market, side, price, quantity - executed)

    for key in set(total) | set(balances):
        row = balances.get(key)
        available = count(row.available, atom[key[1]]) if row is not None else 0
        locked = count(row.locked, atom[key[1]]) if row is not None else 0
        assert available + locked == total[key], f"{key}: balance {available}+{locked} but history says {total[key]}"
        assert locked == reserved[key], f"{key}: locked {locked} but open orders reserve {reserved[key]}"
    net: dict[str, int] = defaultdict(int)
    for t in transfers:
        net[t.asset] += count(t.amount, atom[t.asset]) * (1 if t.kind == "deposit" else -1)
    for symbol, unit in atom.items():
        held = sum(count(r.available + r.locked, unit) for k, r in balances.items() if k[1] == symbol)
        assert held == net[symbol], f"{symbol}: balances sum to {held} atoms, net deposits are {net[symbol]}"
    return digest(engine)
