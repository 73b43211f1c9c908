"""The engine's whole state as plain data: snapshot, restore, digest, reservation check.

A `Snapshot` holds everything `Engine.handle` reads: assets, markets with their depth
sequences, halt flags and last trade prices (the price bands' reference), balances,
open orders, pending withdrawals, the id counters and the most recent transfer ids.
Restoring re-rests open orders in ascending id, which is their price-time priority (an
order never moves once it rests), so
`restore(snapshot(e))` behaves exactly like `e`, and two engines that saw the same
commands from the same snapshot have the same `digest`.

Recovery uses `reservation_mismatches`: each account's locked balance of each asset
must equal what its open orders reserve; anything else is corrupt state.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from exchange.engine.book import Book
from exchange.engine.core import Balance
from exchange.engine.engine import Engine
from exchange.engine.events import Withdrawn
from exchange.engine.numbers import Asset
from exchange.engine.orders import Order, OrderSpec, Side, reservation
from exchange.engine.queries import MarketState
from exchange.engine.transfers import RECENT_TRANSFERS


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceState:
    account_id: int
    asset: str
    available: int
    locked: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenOrderState:
    spec: OrderSpec
    remaining: int
    executed: int
    executed_quote: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    assets: tuple[Asset, ...]
    markets: tuple[MarketState, ...]
    balances: tuple[BalanceState, ...]
    open_orders: tuple[OpenOrderState, ...]
    next_order_id: int
    next_trade_id: int
    transfer_ids: tuple[str, ...]
    """The most recent transfer ids, oldest first (`transfers.RECENT_TRANSFERS` at most)."""
    pending_withdrawals: tuple[Withdrawn, ...] = ()


def snapshot(engine: Engine) -> Snapshot:
    """Copy out the engine's state."""
    return Snapshot(
        assets=tuple(engine.assets.values()),
        markets=tuple(
            MarketState(market=b.market, sequence=b.sequence, halted=b.halted, last_price=b.last_price)
            for b in engine.books.values()
        ),
        balances=tuple(
            BalanceState(account_id=b.account_id, asset=b.asset, available=b.available, locked=b.locked)
            for b in engine.balances.values()
        ),
        open_orders=tuple(
            OpenOrderState(spec=o.spec, remaining=o.remaining, executed=o.executed, executed_quote=o.executed_quote)
            for o in sorted(engine.open_orders.values(), key=lambda o: o.spec.id)
        ),
        next_order_id=engine.next_order_id,
        next_trade_id=engine.next_trade_id,
        transfer_ids=tuple(engine.transfer_ids),
        pending_withdrawals=tuple(engine.pending_withdrawals.values()),
    )


def restore(state: Snapshot) -> Engine:
    """Build an engine that continues exactly where the snapshot's engine stood."""
    engine = Engine()
    engine.assets = {a.symbol: a for a in state.assets}
    engine.books = {m.market.symbol: Book(m.market, m.sequence, m.halted, m.last_price) for m in state.markets}
    for b in state.balances:
        balance = engine.balances[b.account_id, b.asset] = Balance(b.account_id, b.asset, b.available, b.locked)
        engine.balances_by_account.setdefault(b.account_id, []).append(balance)
    for o in sorted(state.open_orders, key=lambda o: o.spec.id):
        order = Order(o.spec, o.remaining, o.executed, o.executed_quote)
        engine.books[o.spec.symbol].add(order)
        engine.open_orders[o.spec.id] = order
        engine.open_by_account.setdefault(o.spec.account_id, {})[o.spec.id] = order
        if o.spec.client_id is not None:
            engine.client_ids[o.spec.account_id, o.spec.client_id] = order
    for book in engine.books.values():
        book.discard_changes()  # re-resting restores the visible book, it does not change it
    engine.next_order_id = state.next_order_id
    engine.next_trade_id = state.next_trade_id
    engine.transfer_ids = dict.fromkeys(state.transfer_ids[-RECENT_TRANSFERS:])
    engine.pending_withdrawals = {w.transfer_id: w for w in state.pending_withdrawals}
    return engine


def digest(engine: Engine) -> str:
    """A hash of the whole state, equal for equal states whatever their history of dicts."""
    h = hashlib.sha256()
    state = snapshot(engine)
    for a in sorted(state.assets, key=lambda a: a.symbol):
        h.update(f"A|{a.symbol}|{a.decimals}|{','.join(a.blockchains)}\n".encode())
    for m in sorted(state.markets, key=lambda m: m.market.symbol):
        k = m.market
        h.update(
            f"M|{k.symbol}|{k.base.symbol}|{k.quote.symbol}|{k.tick_size}|{k.step_size}|{k.min_quantity}|"
            f"{k.maker_fee_bps}|{k.taker_fee_bps}|{k.band_min}|{k.band_max}|{m.sequence}|{m.halted}|{m.last_price}\n".encode()
        )
    for b in sorted(state.balances, key=lambda b: (b.account_id, b.asset)):
        if b.available or b.locked:
            h.update(f"B|{b.account_id}|{b.asset}|{b.available}|{b.locked}\n".encode())
    for o in state.open_orders:
        h.update(f"O|{o.spec!r}|{o.remaining}|{o.executed}|{o.executed_quote}\n".encode())
    for symbol in sorted(engine.books):
        for order in engine.books[symbol].orders():
            h.update(f"P|{order.spec.id}\n".encode())
    h.update(f"N|{state.next_order_id}|{state.next_trade_id}\n".encode())
    for transfer_id in sorted(state.transfer_ids):
        h.update(f"T|{transfer_id}\n".encode())
    for w in sorted(state.pending_withdrawals, key=lambda w: w.transfer_id):
        h.update(f"W|{w.transfer_id}|{w.account_id}|{w.asset}|{w.amount}\n".encode())
    return h.hexdigest()


def reserved_by_open_orders(engine: Engine) -> dict[tuple[int, str], int]:
    """Atoms each (account, asset) must have locked for its open orders."""
    reserved: dict[tuple[int, str], int] = {}
    for order in engine.open_orders.values():
        spec = order.spec
        assert spec.price is not None
        market = engine.books[spec.symbol].market
        asset = market.quote.symbol if spec.side is Side.BID else market.base.symbol
        key = (spec.account_id, asset)
        reserved[key] = reserved.get(key, 0) + reservation(market, spec.side, spec.price, order.remaining)
    return reserved


def reservation_mismatches(engine: Engine) -> list[tuple[int, str, int, int]]:
    """(account, asset, locked, reserved) for every balance whose locked is not what its orders reserve."""
    reserved = reserved_by_open_orders(engine)
    keys = sorted(set(reserved) | {k for k, b in engine.balances.items() if b.locked})
    mismatches = []
    for key in keys:
        balance = engine.balances.get(key)
        locked = balance.locked if balance is not None else 0
        if locked != reserved.get(key, 0):
            mismatches.append((key[0], key[1], locked, reserved.get(key, 0)))
    return mismatches
