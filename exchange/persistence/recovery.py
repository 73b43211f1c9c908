"""Recovery: rebuild the engine from what the database committed, and refuse corrupt state.

The database holds everything `state.Snapshot` needs (see `tables`): assets, markets
with their depth sequence, halt flag and last trade price (the newest trade's),
balances, open orders, the most recent transfer ids (in commit order: the last
`RECENT_TRANSFERS`), the withdrawals still pending (which the operator has yet to
settle), and the id counters, which are the largest order and trade ids plus one (every
accepted order and every trade is a row, so no id is ever handed out twice).

Open orders are re-rested in ascending id, which is their price-time priority; each
one's remaining quantity is its quantity minus what it executed. Decimals are turned
back into the engine's integers with the market's own exact conversions, so a value
that is not a whole number of units (which the writer never produces) raises.

Before the engine is handed out, every account's locked balance of every asset must
equal what its open orders reserve (`state.reservation_mismatches`); otherwise
`load_engine` raises `CorruptStateError` naming the account and asset, and the
exchange refuses to trade on that state.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import RowMapping, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange.engine.commands import Chain
from exchange.engine.engine import Engine
from exchange.engine.errors import ExchangeError, RejectReason
from exchange.engine.events import Withdrawn
from exchange.engine.numbers import Asset, InvalidInput, Market, units_of
from exchange.engine.queries import MarketState
from exchange.engine.state import BalanceState, OpenOrderState, Snapshot, reservation_mismatches, restore
from exchange.engine.transfers import RECENT_TRANSFERS
from exchange.persistence import queries, tables
from exchange.persistence.timestamps import to_micros


class CorruptStateError(ExchangeError):
    """The stored state breaks an invariant (locked funds differ from open orders' reservations)."""


def market_of(row: RowMapping, assets: Mapping[str, Asset]) -> Market:
    """The `Market` a `markets` row describes."""
    return Market(
        symbol=row["symbol"],
        base=assets[row["base"]],
        quote=assets[row["quote"]],
        tick_size=row["tick_size"],
        step_size=row["step_size"],
        min_quantity=row["min_quantity"],
        maker_fee_bps=row["maker_fee_bps"],
        taker_fee_bps=row["taker_fee_bps"],
        band_min=row["band_min"],
        band_max=row["band_max"],
    )


def _count(value: Decimal, unit: Decimal) -> int:
    """`value / unit` as an int, exactly; zero allowed (the engine's converters take positives only)."""
    if value == 0:
        return 0
    try:
        return units_of(value, unit, reason=RejectReason.INVALID_AMOUNT, name="stored amount")
    except InvalidInput as error:
        raise CorruptStateError(error.message) from error


async def load_snapshot(connection: AsyncConnection) -> Snapshot:
    """Read the engine's state from the database as a `Snapshot`."""
    a = tables.assets.c
    assets = {
        row.symbol: Asset(symbol=row.symbol, decimals=row.decimals, blockchains=tuple(row.blockchains))
        for row in await connection.execute(select(a.symbol, a.decimals, a.blockchains))
    }
    markets: dict[str, Market] = {}
    market_states = []
    trades = tables.trades
    for row in await connection.execute(select(tables.markets).order_by(tables.markets.c.symbol)):
        market = markets[row.symbol] = market_of(row._mapping, assets)
        newest = select(trades.c.price).where(trades.c.symbol == row.symbol).order_by(trades.c.id.desc()).limit(1)
        last = await connection.scalar(newest)
        market_states.append(
            MarketState(
                market=market,
                sequence=row.sequence,
                halted=row.halted,
                last_price=None if last is None else _count(last, market.tick_size),
            )
        )
    balances = tuple(
        BalanceState(
            account_id=row.account_id,
            asset=row.asset,
            available=_count(row.available, assets[row.asset].atom),
            locked=_count(row.locked, assets[row.asset].atom),
        )
        for row in await connection.execute(select(tables.balances))
    )
    o = tables.orders
    open_orders = []
    for row in await connection.execute(select(o).where(o.c.status.in_(tables.OPEN_STATUSES)).order_by(o.c.id)):
        try:
            stored = queries.Order.of(row)
            spec = stored.spec(markets[row.symbol])
            executed, executed_quote = stored.executed(markets[row.symbol])
        except InvalidInput as error:
            raise CorruptStateError(f"order {row.id}: {error.message}") from error
        assert spec.quantity is not None, "only limit orders rest"
        open_orders.append(
            OpenOrderState(
                spec=spec,
                remaining=spec.quantity - executed,
                executed=executed,
                executed_quote=executed_quote,
            )
        )
    max_order = await connection.scalar(select(func.coalesce(func.max(o.c.id), 0)))
    max_trade = await connection.scalar(select(func.coalesce(func.max(tables.trades.c.id), 0)))
    t = tables.transfers
    recent = select(t.c.transfer_id).order_by(t.c.id.desc()).limit(RECENT_TRANSFERS)
    transfer_ids = tuple(reversed(list(await connection.scalars(recent))))
    pending = select(t).where(t.c.kind == "withdrawal", t.c.status == tables.PENDING).order_by(t.c.id)
    pending_withdrawals = tuple(
        Withdrawn(
            account_id=row.account_id,
            asset=row.asset,
            amount=_count(row.amount, assets[row.asset].atom),
            transfer_id=row.transfer_id,
            chain=Chain(blockchain=row.blockchain, address=row.address),
            ts=to_micros(row.ts),
        )
        for row in await connection.execute(pending)
    )
    return Snapshot(
        assets=tuple(assets.values()),
        markets=tuple(market_states),
        balances=balances,
        open_orders=tuple(open_orders),
        next_order_id=int(max_order or 0) + 1,
        next_trade_id=int(max_trade or 0) + 1,
        transfer_ids=transfer_ids,
        pending_withdrawals=pending_withdrawals,
    )


async def load_engine(db: AsyncEngine) -> Engine:
    """Rebuild the engine from the database; raise `CorruptStateError` if locked funds are inconsistent."""
    async with db.connect() as connection, connection.begin():
        await connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = await load_snapshot(connection)
    engine = restore(snapshot)
    mismatches = reservation_mismatches(engine)
    if mismatches:
        assets = {asset.symbol: asset for asset in snapshot.assets}
        lines = [
            f"account {account} asset {asset}: locked {assets[asset].amount(locked)} "
            f"but its open orders reserve {assets[asset].amount(reserved)}"
            for account, asset, locked, reserved in mismatches
        ]
        raise CorruptStateError("refusing to start on corrupt state: " + "; ".join(lines))
    return engine
