"""The engine benchmark's matchers agree with the engine: same trades, and the floor's balances are the engine's."""

from __future__ import annotations

from exchange.bench.engine import _commands, _setup, funded_floor, run_bare, run_engine, run_floor, workload
from exchange.engine.numbers import FEE_ACCOUNT


def test_all_three_matchers_make_the_same_trades() -> None:
    steps = workload(3_000, seed=11)
    engine, bare, floor = run_engine(steps), run_bare(steps), run_floor(steps)
    assert engine.trades > 500
    assert (engine.trades, engine.volume) == (bare.trades, bare.volume) == (floor.trades, floor.volume)


def test_the_floor_does_the_engines_bookkeeping_to_the_atom() -> None:
    steps = workload(3_000, seed=12)
    engine, _ = _setup()
    for command in _commands(steps):
        engine.handle(command)
    floor = funded_floor()
    run_floor(steps, floor)

    held = {key: (b.available, b.locked) for key, b in floor.balances.items() if b.available or b.locked}
    assert held == {key: (b.available, b.locked) for key, b in engine.balances.items() if b.available or b.locked}
    fees = {key: available for key, (available, _) in held.items() if key[0] == FEE_ACCOUNT}
    assert all(fees.values()) and len(fees) == 2
    book = engine.books["SOL_USDC"]
    bids, asks = book.depth(10_000)
    assert sorted(floor.sizes[True].items(), reverse=True) == bids
    assert sorted(floor.sizes[False].items()) == asks
    assert floor.sequence > 0 and set(floor.open) == set(engine.open_orders)
