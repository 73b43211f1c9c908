"""Transfer history over real sockets: `/wapi/v1/capital/deposits` and `/withdrawals` list exactly the account's own."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.api.client import Client, ok
from tests.api.conftest import Exchange

DEPOSITS = ("/wapi/v1/capital/deposits", "depositQueryAll")
WITHDRAWALS = ("/wapi/v1/capital/withdrawals", "withdrawalQueryAll")

DEPOSIT_KEYS = {
    "id", "toAddress", "fromAddress", "confirmationBlockNumber", "identifier", "source", "status",
    "transactionHash", "subaccountId", "symbol", "quantity", "createdAt", "fiatAmount", "fiatCurrency",
    "institutionBic", "platformMemo",
}  # fmt: skip
WITHDRAWAL_KEYS = {
    "id", "blockchain", "clientId", "identifier", "quantity", "fee", "symbol", "status", "subaccountId",
    "toAddress", "transactionHash", "createdAt", "isInternal", "triggerAt", "accountIdentifier",
    "bankIdentifier", "bankName", "fiatFee", "fiatState", "fiatSymbol", "providerId",
}  # fmt: skip


def transfer(client: Client, path: str, instruction: str, symbol: str, quantity: str, **extra: str) -> str:
    """Make a deposit or withdrawal; its ledger transfer id. Apart by a few ms, so `from`/`to` can tell them apart."""
    body = {"symbol": symbol, "quantity": quantity, "transferId": uuid.uuid4().hex, **extra}
    transfer_id: str = ok(client.post(path, instruction, body))["transferId"]
    time.sleep(0.005)
    return transfer_id


def deposit(client: Client, symbol: str, quantity: str) -> str:
    return transfer(client, "/exchange/v1/capital/deposit", "deposit", symbol, quantity)


def withdraw(client: Client, symbol: str, quantity: str) -> str:
    return transfer(client, "/exchange/v1/capital/withdraw", "withdraw", symbol, quantity)


def millis(created_at: str) -> int:
    moment = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


@pytest.fixture(scope="module")
def carol(exchange: Exchange) -> tuple[Client, list[str], list[str]]:
    """An account with three deposits (two from the faucet, one from the operator) and two withdrawals, in order."""
    carol, dave = exchange.new_account(), exchange.new_account()
    deposits = [deposit(carol, "SOL", "10"), deposit(carol, "USDC", "250.5")]
    onramp = {"symbol": "BTC", "quantity": "0.5", "transferId": uuid.uuid4().hex, "accountId": str(carol.account_id)}
    deposits.append(ok(exchange.admin.post("/exchange/v1/capital/deposit", "deposit", onramp))["transferId"])
    time.sleep(0.005)
    withdrawals = [withdraw(carol, "SOL", "2.5"), withdraw(carol, "USDC", "0.000001")]
    refused = carol.post(
        "/exchange/v1/capital/withdraw", "withdraw", {"symbol": "SOL", "quantity": "1000", "transferId": "too-much"}
    )
    assert refused.status_code == 400, refused.text
    deposit(dave, "SOL", "1")
    withdraw(dave, "SOL", "1")
    return carol, deposits[::-1], withdrawals[::-1]


def newest_first(client: Client, route: tuple[str, str], identifiers: list[str]) -> list[dict[str, Any]]:
    """The history `route` answers, checked to be these transfers, newest first, numbered by integer ids."""
    items: list[dict[str, Any]] = ok(client.get(*route))
    assert [item["identifier"] for item in items] == identifiers
    numbers = [item["id"] for item in items]
    assert all(isinstance(n, int) for n in numbers) and numbers == sorted(numbers, reverse=True)
    return items


def test_deposits_are_the_accounts_own_newest_first(carol: tuple[Client, list[str], list[str]]) -> None:
    client, deposit_ids, _ = carol
    deposits = newest_first(client, DEPOSITS, deposit_ids)
    assert [(d["symbol"], Decimal(d["quantity"])) for d in deposits] == [
        ("BTC", Decimal("0.5")),
        ("USDC", Decimal("250.5")),
        ("SOL", Decimal("10")),
    ]
    assert deposits[1]["quantity"] == "250.500000"
    for item in deposits:
        assert set(item) == DEPOSIT_KEYS
        assert (item["status"], item["source"], item["transactionHash"], item["fromAddress"]) == (
            "confirmed",
            "administrator",
            None,
            None,
        )
    times = [millis(d["createdAt"]) for d in deposits]
    assert times == sorted(times, reverse=True) and abs(times[0] - time.time() * 1000) < 60_000


def test_withdrawals_are_the_accounts_own_newest_first(carol: tuple[Client, list[str], list[str]]) -> None:
    client, _, withdrawal_ids = carol
    withdrawals = newest_first(client, WITHDRAWALS, withdrawal_ids)
    assert [(w["symbol"], w["quantity"], w["fee"], w["status"]) for w in withdrawals] == [
        ("USDC", "0.000001", "0", "confirmed"),
        ("SOL", "2.500000000", "0", "confirmed"),
    ]
    for item in withdrawals:
        assert set(item) == WITHDRAWAL_KEYS
        assert (item["blockchain"], item["toAddress"], item["transactionHash"], item["isInternal"]) == (
            None,
            None,
            None,
            False,
        )


@pytest.mark.parametrize("route", [DEPOSITS, WITHDRAWALS])
def test_limit_offset_and_time_window(carol: tuple[Client, list[str], list[str]], route: tuple[str, str]) -> None:
    client = carol[0]
    everything = ok(client.get(*route))
    ids = [t["id"] for t in everything]
    assert [t["id"] for t in ok(client.get(*route, {"limit": 1}))] == ids[:1]
    assert [t["id"] for t in ok(client.get(*route, {"limit": 1, "offset": 1}))] == ids[1:2]
    assert ok(client.get(*route, {"offset": len(ids)})) == []
    last = millis(everything[-1]["createdAt"])
    first = millis(everything[0]["createdAt"])
    assert [t["id"] for t in ok(client.get(*route, {"from": last, "to": last}))] == ids[-1:]
    assert [t["id"] for t in ok(client.get(*route, {"from": last + 1}))] == ids[:-1]
    assert [t["id"] for t in ok(client.get(*route, {"to": first - 1}))] == ids[1:]
    assert [t["id"] for t in ok(client.get(*route, {"from": first, "to": first, "limit": 1000}))] == ids[:1]
    assert ok(client.get(*route, {"from": first + 1})) == []
    assert ok(client.get(*route, {"from": first, "to": last - 1})) == []


def test_an_account_without_transfers_sees_none(exchange: Exchange) -> None:
    stranger = exchange.new_account("read")
    assert ok(stranger.get(*DEPOSITS)) == [] and ok(stranger.get(*WITHDRAWALS)) == []


@pytest.mark.parametrize("route", [DEPOSITS, WITHDRAWALS])
@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": "1.5"},
        {"from": "yesterday"},
        {"to": -5},
        {"from": 2**60},
    ],
)
def test_bad_parameters_are_400(exchange: Exchange, route: tuple[str, str], params: dict[str, Any]) -> None:
    reply = exchange.alice.get(*route, params)
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "INVALID_CLIENT_REQUEST" and reply.json()["message"]


@pytest.mark.parametrize("route", [DEPOSITS, WITHDRAWALS])
def test_unsigned_or_wrongly_signed_is_401(exchange: Exchange, http: httpx.Client, route: tuple[str, str]) -> None:
    path, instruction = route
    unsigned = http.get(f"{exchange.url}{path}")
    assert unsigned.status_code == 401 and unsigned.json()["code"]
    other = "withdrawalQueryAll" if instruction == "depositQueryAll" else "depositQueryAll"
    wrong = exchange.alice.get(path, other)
    assert wrong.status_code == 401 and wrong.json()["code"] == "INVALID_SIGNATURE"
    tampered = exchange.alice.request(
        "GET",
        path,
        instruction,
        {"limit": 5},
        headers={"X-Signature": exchange.bob.keys.headers(instruction, [{}])["X-Signature"]},
    )
    assert tampered.status_code == 401 and tampered.json()["code"] == "INVALID_SIGNATURE"


@pytest.mark.parametrize(("which", "endpoint"), [(1, DEPOSITS), (2, WITHDRAWALS)])
def test_sort_direction_lists_transfers_oldest_or_newest_first(
    carol: tuple[Client, list[str], list[str]], which: int, endpoint: tuple[str, str]
) -> None:
    client, newest_first = carol[0], carol[which]
    assert isinstance(newest_first, list)

    def listed(**params: str) -> list[str]:
        return [t["identifier"] for t in ok(client.get(*endpoint, params))]

    assert listed(sortDirection="Asc") == newest_first[::-1]
    assert listed(sortDirection="Asc", limit="1", offset="1") == newest_first[::-1][1:2]
    assert listed(sortDirection="Desc") == listed() == newest_first
    refused = client.get(*endpoint, {"sortDirection": "up"})
    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_CLIENT_REQUEST"), refused.text
