"""The engine's one codec: every command, query, event and answer survives `decode(encode(x))` exactly."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from exchange.bench.persist import workload
from exchange.demo import BTC, USDC
from exchange.engine import codec
from exchange.engine.commands import (
    AddAsset,
    CancelAllOrders,
    CancelOrder,
    Chain,
    Command,
    Deposit,
    SetMarketHalted,
    SettleWithdrawal,
    Withdraw,
)
from exchange.engine.engine import Engine
from exchange.engine.errors import RejectReason
from exchange.engine.events import BalanceChanged, Event, Rejected, WithdrawalSettled
from exchange.engine.queries import (
    GetBalances,
    GetBooks,
    GetDepth,
    GetDigest,
    GetListings,
    GetOpenOrders,
    GetOrder,
    Holding,
    Query,
)

REJECTED: Event = Rejected(
    command=Deposit(account_id=1, asset="BTC", amount=2**64, transfer_id="t", ts=1),
    reason=RejectReason.DUPLICATE_TRANSFER,
    message="again",
)


def round_trip(value: object, expected: Any = Any) -> None:
    assert codec.decode(codec.encode(value), expected) == value


def test_every_command_and_event_of_a_trading_session_round_trips() -> None:
    engine = Engine()
    commands: list[Command] = list(workload(11, 300))
    commands += [
        SetMarketHalted(symbol="BTC_USDC", halted=True, ts=9),
        CancelOrder(account_id=1, symbol="BTC_USDC", client_id=7, ts=9),
        CancelAllOrders(account_id=2, symbol="BTC_USDC", ts=9),
        Withdraw(account_id=1, asset="USDC", amount=5, transfer_id="w", ts=9),
        Withdraw(
            account_id=1, asset="USDC", amount=5, transfer_id="w2", chain=Chain(blockchain="Solana", address="a"), ts=9
        ),
        SettleWithdrawal(transfer_id="w2", confirmed=True, transaction_hash="tx", ts=10),
        Deposit(
            account_id=1,
            asset="USDC",
            amount=5,
            transfer_id="c",
            chain=Chain(blockchain="Solana", address="r", transaction_hash="t"),
            ts=11,
        ),
    ]
    seen: set[type[Any]] = set()
    for command in commands:
        round_trip(command)
        for event in engine.handle(command):
            round_trip(event)
            seen.add(type(event))
    assert len(seen) >= 8, seen
    assert {type(c) for c in commands} >= {Deposit, SetMarketHalted, CancelOrder, CancelAllOrders, Withdraw}
    assert WithdrawalSettled in seen


def test_every_query_and_its_answer_round_trips() -> None:
    engine = Engine()
    for command in workload(5, 200):
        engine.handle(command)
    symbol = next(iter(engine.books))
    resting = next(iter(engine.open_orders.values()))
    account = resting.spec.account_id
    queries: list[Query] = [
        GetListings(),
        GetDepth(symbol=symbol, limit=5),
        GetBooks(limit=10),
        GetBalances(account_id=account),
        GetOpenOrders(account_id=account),
        GetOpenOrders(account_id=account, symbol=symbol),
        GetOrder(account_id=account, symbol=symbol, order_id=resting.spec.id),
        GetOrder(account_id=account, symbol=symbol, client_id=12345),
        GetDigest(),
    ]
    for query in queries:
        round_trip(query)
        answer = engine.answer(query)
        round_trip(answer, type(answer) if not isinstance(answer, tuple) else Any)
    assert engine.answer(GetOrder(account_id=account, symbol=symbol, client_id=12345)) is None


def test_integers_past_64_bits_and_nested_unions_keep_their_exact_value() -> None:
    huge = BalanceChanged(account_id=1, asset="USDC", available=10**40 + 1, locked=-(2**70), ts=1)
    assert b"10000000000000000000000000000000000000001," in codec.encode(huge)
    round_trip(huge)
    round_trip(REJECTED)
    round_trip(BTC)
    round_trip(USDC)


PLACE = (
    b'{"PlaceOrder": {"account_id": 1, "symbol": "BTC_USDC", "side": "Bid", "order_type": "Limit", '
    b'"quantity": 5, "price": 10, "ts": 1}}'
)


def test_a_well_formed_command_reads_as_its_record() -> None:
    command = codec.decode(PLACE, Command | Query)
    assert command == codec.decode(codec.encode(command), Command | Query)
    assert (command.account_id, command.quantity, command.price) == (1, 5, 10)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'"PlaceOrder"',
        b"{}",
        PLACE.replace(b"PlaceOrder", b"Nope"),
        PLACE.replace(b"}}", b'}, "GetDigest": {}}'),
        PLACE.replace(b'"quantity": 5', b'"quantity": 5.0'),
        PLACE.replace(b'"quantity": 5', b'"quantity": "5"'),
        PLACE.replace(b'"side": "Bid"', b'"side": "Up"'),
        PLACE.replace(b'"account_id": 1, ', b""),
        codec.encode(BalanceChanged(account_id=1, asset="USDC", available=1, locked=0, ts=1)),
    ],
)
def test_anything_but_a_command_or_a_query_is_refused(raw: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        codec.decode(raw, Command | Query)


@pytest.mark.parametrize(
    "raw",
    [
        codec.encode(REJECTED).replace(b'"Deposit"', b'"Deposited"'),
        codec.encode(REJECTED).replace(b'"message":"again"', b'"extra":1'),
    ],
)
def test_a_record_holding_a_union_refuses_a_malformed_member(raw: bytes) -> None:
    assert codec.decode(codec.encode(REJECTED), Event) == REJECTED
    with pytest.raises(msgspec.DecodeError):
        codec.decode(raw, Event)


def test_a_record_its_own_checks_refuse_is_refused() -> None:
    raw = codec.encode(AddAsset(asset=BTC, ts=1)).replace(b'"decimals":8', b'"decimals":-1')
    with pytest.raises(msgspec.ValidationError, match="decimals"):
        codec.decode(raw, Command)


def test_an_answer_of_unstated_type_holds_no_float() -> None:
    assert codec.decode(b'[{"Holding": {"asset": "USDC", "available": 1, "locked": 0}}, null, "x"]') == (
        Holding(asset="USDC", available=1, locked=0),
        None,
        "x",
    )
    with pytest.raises(msgspec.ValidationError):
        codec.decode(b"[1.5]")
