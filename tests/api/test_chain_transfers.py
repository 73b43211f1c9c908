"""Withdrawals on Backpack's route (pending, then confirmed or failed by the operator), deposit addresses,
deposits by reference, and assets' blockchains, on a real server over a database that outlives a restart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from exchange.api.auth import KeyPair
from exchange.config import Settings
from tests.api.client import Client, ok, refused
from tests.api.conftest import _settings, running
from tests.support.databases import database

WITHDRAWALS, PENDING = "/wapi/v1/capital/withdrawals", "/admin/v1/withdrawals"
CONFIRM, FAIL = "/admin/v1/withdrawals/confirm", "/admin/v1/withdrawals/fail"
DEPOSIT, ADDRESS = "/exchange/v1/capital/deposit", "/wapi/v1/capital/deposit/address"
ASSETS = {"SOL": ("9", "Solana"), "USDC": ("6", "Solana,Ethereum"), "BTC": ("8", None)}


@dataclass
class Site:
    """A database that outlives its servers, the settings to serve it, its operator and a funded trader."""

    settings: Settings
    admin: KeyPair
    trader: KeyPair
    account_id: int = 0

    def serve(self) -> Iterator[tuple[Client, Client]]:
        """Run a server on the site's database; yield (operator, trader) clients."""
        with running(self.settings) as served:
            trader = Client(served.url, self.trader, self.account_id)
            yield Client(served.url, self.admin), trader


@pytest.fixture(scope="module")
def site(database_name: str) -> Iterator[Site]:
    """SOL on Solana, USDC on Solana and Ethereum, BTC listed without naming one; a trader with 10 SOL."""
    name = f"{database_name}_chains"
    admin = KeyPair.generate()
    with database(name):
        site = Site(settings=_settings(name, admin), admin=admin, trader=KeyPair.generate())
        for operator, trader in site.serve():
            for symbol, (decimals, chains) in ASSETS.items():
                body = {"symbol": symbol, "decimals": decimals, **({"blockchains": chains} if chains else {})}
                ok(operator.post("/admin/v1/assets", "assetCreate", body))
            opened = ok(operator.post("/exchange/v1/accounts", "accountCreate", {"publicKey": trader.keys.public_key}))
            site.account_id = opened["accountId"]
            trader.fund("SOL", "10")
        yield site


@pytest.fixture
def clients(site: Site) -> Iterator[tuple[Client, Client]]:
    """A server on the site's database, for one test."""
    yield from site.serve()


def withdraw(trader: Client, quantity: str, client_id: str, **extra: str) -> Any:
    body = {"symbol": "SOL", "quantity": quantity, "address": "So1Dest", "blockchain": "Solana", "clientId": client_id}
    return trader.post(WITHDRAWALS, "withdraw", {**body, **extra})


def sol(trader: Client) -> tuple[Decimal, Decimal]:
    balance = trader.balances()["SOL"]
    return Decimal(balance["available"]), Decimal(balance["locked"])


def history(trader: Client, **params: str) -> list[tuple[str, str, str | None]]:
    rows = ok(trader.get(WITHDRAWALS, "withdrawalQueryAll", params))
    return [(w["identifier"].rsplit(":", 1)[1], w["status"], w["transactionHash"]) for w in rows]


def test_assets_list_their_blockchains_and_bad_ones_are_refused(clients: tuple[Client, Client]) -> None:
    operator, _ = clients
    assets = {a["symbol"]: [t["blockchain"] for t in a["tokens"]] for a in ok(operator.http.get("/api/v1/assets"))}
    assert assets == {"BTC": ["Solana"], "SOL": ["Solana"], "USDC": ["Solana", "Ethereum"]}
    for chains in ("", "Solana,Solana", "So lana", "x" * 33, "Solana,"):
        body = {"symbol": "DOGE", "decimals": "8", "blockchains": chains}
        refused(operator.post("/admin/v1/assets", "assetCreate", body), 400, "INVALID_CLIENT_REQUEST")
    assert "DOGE" not in {a["symbol"] for a in ok(operator.http.get("/api/v1/assets"))}


def test_a_withdrawal_is_pending_then_confirmed_or_failed_with_its_funds_back(
    clients: tuple[Client, Client],
) -> None:
    operator, trader = clients
    before = sol(trader)
    sent = ok(withdraw(trader, "2", "sent"))
    assert (sent["status"], sent["blockchain"], sent["toAddress"], sent["transactionHash"]) == (
        "pending",
        "Solana",
        "So1Dest",
        None,
    )
    assert Decimal(sent["quantity"]) == 2 and sent["symbol"] == "SOL"
    assert ok(withdraw(trader, "2", "sent")) == sent  # idempotent by clientId
    bounced = ok(withdraw(trader, "3.5", "bounced"))
    assert sol(trader) == (Decimal("4.5"), Decimal(0))
    listed = ok(operator.get(PENDING, "withdrawalQueryPending"))
    assert [w["id"] for w in listed][-2:] == [sent["id"], bounced["id"]]

    confirmed = ok(operator.post(CONFIRM, "withdrawalConfirm", {"id": sent["id"], "transactionHash": "5xSig"}))
    assert (confirmed["status"], confirmed["transactionHash"]) == ("confirmed", "5xSig")
    assert ok(operator.post(CONFIRM, "withdrawalConfirm", {"id": sent["id"]})) == confirmed
    refused(operator.post(FAIL, "withdrawalFail", {"id": sent["id"]}), 400, "INVALID_CLIENT_REQUEST")
    assert sol(trader) == (Decimal("4.5"), Decimal(0))

    failed = ok(operator.post(FAIL, "withdrawalFail", {"id": bounced["id"]}))
    assert failed["status"] == "failed"
    assert sol(trader) == (Decimal(8), Decimal(0))  # exactly the 3.5 back, once
    assert ok(operator.post(FAIL, "withdrawalFail", {"id": bounced["id"]})) == failed
    refused(operator.post(CONFIRM, "withdrawalConfirm", {"id": bounced["id"]}), 400, "INVALID_CLIENT_REQUEST")
    assert sol(trader) == (Decimal(8), Decimal(0)) and before == (Decimal(10), Decimal(0))
    assert ok(withdraw(trader, "2", "sent"))["status"] == "confirmed"  # the same clientId names the same withdrawal
    assert sent["id"] not in [w["id"] for w in ok(operator.get(PENDING, "withdrawalQueryPending"))]

    newest_first = [("bounced", "failed", None), ("sent", "confirmed", "5xSig")]
    assert history(trader)[:2] == history(trader, sortDirection="Desc")[:2] == newest_first
    assert history(trader, sortDirection="Asc")[-2:] == newest_first[::-1]


def test_bad_withdrawals_and_settlements_change_nothing(clients: tuple[Client, Client], site: Site) -> None:
    operator, trader = clients
    before, listed = sol(trader), history(trader)
    for extra, code in (
        ({"blockchain": "Ethereum"}, "INVALID_CLIENT_REQUEST"),  # SOL is on Solana only
        ({"blockchain": "Not a chain"}, "INVALID_CLIENT_REQUEST"),
        ({"address": "has space"}, "INVALID_CLIENT_REQUEST"),
        ({"quantity": "1000"}, "INSUFFICIENT_FUNDS"),
        ({"quantity": "0.0000000001"}, "INVALID_QUANTITY"),
        ({"symbol": "DOGE"}, "INVALID_ASSET"),
        ({"twoFactorToken": "123456"}, "INVALID_CLIENT_REQUEST"),
    ):
        refused(withdraw(trader, extra.pop("quantity", "1"), "bad", **extra), 400, code)
    refused(
        operator.post(
            WITHDRAWALS, "withdraw", {"symbol": "SOL", "quantity": "1", "address": "a", "blockchain": "Solana"}
        ),
        403,
        "FORBIDDEN",
    )
    deposit_number = ok(trader.get("/wapi/v1/capital/deposits", "depositQueryAll"))[0]["id"]
    for number in (deposit_number, 10**9):
        refused(operator.post(CONFIRM, "withdrawalConfirm", {"id": number}), 404, "RESOURCE_NOT_FOUND")
    refused(trader.post(CONFIRM, "withdrawalConfirm", {"id": 1}), 403, "FORBIDDEN")
    refused(trader.get(PENDING, "withdrawalQueryPending"), 403, "FORBIDDEN")
    assert (sol(trader), history(trader)) == (before, listed)


def test_a_pending_withdrawal_survives_a_restart_and_is_failed_after_it(site: Site) -> None:
    for _, trader in site.serve():
        before = sol(trader)
        pending = ok(withdraw(trader, "1.25", "across-restart"))
    for operator, trader in site.serve():  # a new server, a new engine, the same database
        assert history(trader)[0] == ("across-restart", "pending", None)
        assert pending["id"] in [w["id"] for w in ok(operator.get(PENDING, "withdrawalQueryPending"))]
        assert ok(withdraw(trader, "1.25", "across-restart")) == pending
        failed = ok(operator.post(FAIL, "withdrawalFail", {"id": pending["id"]}))
        assert failed["status"] == "failed" and sol(trader) == before
        engine = ok(operator.get("/admin/v1/engine", "engineQuery"))
    for operator, trader in site.serve():
        assert sol(trader) == before and history(trader)[0] == ("across-restart", "failed", None)
        assert ok(operator.get("/admin/v1/engine", "engineQuery"))["digest"] == engine["digest"]


def test_deposits_by_address_credit_once_per_transaction(clients: tuple[Client, Client]) -> None:
    operator, trader = clients
    solana = ok(trader.get(ADDRESS, "depositAddressQuery", {"blockchain": "Solana"}))["address"]
    assert ok(trader.get(ADDRESS, "depositAddressQuery", {"blockchain": "Solana"}))["address"] == solana
    ethereum = ok(trader.get(ADDRESS, "depositAddressQuery", {"blockchain": "Ethereum"}))["address"]
    assert len({solana, ethereum}) == 2
    refused(trader.get(ADDRESS, "depositAddressQuery", {"blockchain": "Bitcoin"}), 400, "INVALID_CLIENT_REQUEST")
    refused(trader.get(ADDRESS, "depositAddressQuery"), 400, "INVALID_CLIENT_REQUEST")
    refused(operator.get(ADDRESS, "depositAddressQuery", {"blockchain": "Solana"}), 403, "FORBIDDEN")

    usdc = Decimal(trader.balances().get("USDC", {}).get("available", "0"))
    body = {"symbol": "USDC", "quantity": "12.5", "address": ethereum, "transactionHash": "0xfeed"}
    first = ok(operator.post(DEPOSIT, "deposit", body))
    assert (first["accountId"], first["duplicate"]) == (trader.account_id, False)
    again = ok(operator.post(DEPOSIT, "deposit", {**body, "quantity": "99"}))
    assert (again["transferId"], again["duplicate"]) == (first["transferId"], True)
    assert Decimal(trader.balances()["USDC"]["available"]) == usdc + Decimal("12.5")

    refused(operator.post(DEPOSIT, "deposit", {**body, "symbol": "SOL"}), 400, "INVALID_CLIENT_REQUEST")
    refused(operator.post(DEPOSIT, "deposit", {**body, "address": "nobody"}), 400, "INVALID_CLIENT_REQUEST")
    refused(operator.post(DEPOSIT, "deposit", {**body, "transactionHash": None}), 400, "INVALID_CLIENT_REQUEST")
    refused(operator.post(DEPOSIT, "deposit", {**body, "accountId": "1"}), 400, "INVALID_CLIENT_REQUEST")
    refused(trader.post(DEPOSIT, "deposit", {**body, "transactionHash": "0xmine"}), 403, "FORBIDDEN")

    (credit,) = [d for d in ok(trader.get("/wapi/v1/capital/deposits", "depositQueryAll")) if d["symbol"] == "USDC"]
    assert (credit["transactionHash"], credit["toAddress"], credit["source"], Decimal(credit["quantity"])) == (
        "0xfeed",
        ethereum,
        "ethereum",
        Decimal("12.5"),
    )
