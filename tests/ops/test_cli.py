"""The CLI refuses bad arguments and bad configuration with a clear message and a non-zero status.

And its key commands work against a real server (`exchange serve`, open sign-up):
`accounts create` opens an account, `keys add` registers a second key and prints it
once, `keys list` shows both, `keys revoke` revokes one, whose next call is refused.
So do the operator's: an asset listed on its blockchains, a deposit by address (once per
transaction), and pending withdrawals listed, confirmed and failed.
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange.api.auth import KeyPair
from tests.api.client import Client, ok
from tests.support.databases import SERVER_URL
from tests.support.processes import EXCHANGE, Process, environment, free_port, scratch_site


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXCHANGE, *args], check=False, env=environment(**env), capture_output=True, text=True, timeout=60
    )


def test_bad_configuration_names_the_variable_and_exits_1() -> None:
    for variable, value in [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("EXCHANGE_LOG_LEVEL", "LOUD"),
        ("EXCHANGE_LOG_FORMAT", "xml"),
        ("EXCHANGE_BOT_LEVELS", "0"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("EXCHANGE_CORS_ORIGINS", "not json"),
    ]:
        result = run("serve", **{variable: value})
        assert result.returncode == 1, (variable, result)
        assert result.stderr.startswith("error: bad configuration: ") and variable in result.stderr, result.stderr
        result = run("demo", **{variable: value})
        assert result.returncode == 1 and variable in result.stderr


def test_bad_arguments_print_usage_errors_and_exit_2() -> None:
    cases = [
        ("serve", "--port", "0"),
        ("serve", "--port", "http"),
        ("markets", "add", "SOL", "USDC", "--tick-size", "abc", "--step-size", "0.01"),
        ("markets", "add", "SOL", "USDC", "--tick-size", "-1", "--step-size", "0.01"),
        ("markets", "add", "SOL"),
        ("assets", "add", "SOL", "--decimals", "99"),
        ("assets", "add", "SO-L", "--decimals", "9"),
        ("deposit", "USDC", "lots"),
        ("accounts", "create", "--nope"),
        ("accounts", "create", "--scopes", "read,root"),
        ("keys", "add", "--scopes", "read,root"),
        ("keys", "add", "--scopes", ","),
        ("keys", "revoke"),
        ("bots", "--levels", "0"),
        ("frobnicate",),
    ]
    for args in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result)
        assert "Error" in result.stderr or "Usage" in result.stderr, (args, result.stderr)


def test_missing_or_bad_keys_and_unreachable_servers_are_explained() -> None:
    result = run("assets", "add", "SOL", "--decimals", "9")
    assert result.returncode == 1 and "EXCHANGE_API_SECRET" in result.stderr
    result = run("deposit", "USDC", "1", "--key", "not base64!")
    assert result.returncode == 1 and "--key" in result.stderr and "base64" in result.stderr
    result = run("keys", "add")
    assert result.returncode == 1 and "EXCHANGE_API_SECRET" in result.stderr
    secret = KeyPair.generate().secret
    url = f"http://127.0.0.1:{free_port()}"
    result = run("assets", "add", "SOL", "--decimals", "9", "--key", secret, "--url", url)
    assert result.returncode == 1 and "cannot reach the exchange" in result.stderr
    result = run("bots", "--url", url)
    assert result.returncode == 1 and "bots stopped" in result.stderr
    port = str(free_port())
    for variables in ({"PORT": port}, {"PORT": "1", "EXCHANGE_URL": f"http://127.0.0.1:{port}"}):
        result = run("keys", "list", "--key", secret, **variables)
        assert result.returncode == 1 and f"cannot reach the exchange at http://127.0.0.1:{port}" in result.stderr


def database_commands() -> list[tuple[str, ...]]:
    """Every command that opens the database (the servers on free ports)."""
    return [("db", "upgrade"), ("serve", "--port", str(free_port())), ("demo", "--port", str(free_port()))]


def one_error_line(stderr: str) -> str:
    """The one line that says what went wrong (serve's other lines are uvicorn's start and stop)."""
    assert "Traceback" not in stderr and len(stderr.splitlines()) <= 6, stderr
    (line,) = [line for line in stderr.splitlines() if "error: " in line]
    return line


def test_a_bad_database_url_is_one_line_and_exit_1_for_every_command() -> None:
    for command in database_commands():
        result = run(*command, DATABASE_URL="mysql://u@h/d")
        assert result.returncode == 1, (command, result)
        assert result.stderr.startswith("error: bad configuration: DATABASE_URL") and result.stderr.count("\n") == 1


def test_a_database_that_cannot_be_opened_is_one_line_and_exit_3_for_every_command() -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    for command in database_commands():
        for url, reason in ((unreachable, "Connect call failed"), (f"{SERVER_URL}?sslmode=require", "SSL")):
            result = run(*command, DATABASE_URL=url)
            assert result.returncode == 3, (command, result)
            line = one_error_line(result.stderr)
            assert "error: cannot open the database (DATABASE_URL): " in line and reason in line, line


def test_keygen_prints_a_usable_pair() -> None:
    result = run("keygen")
    assert result.returncode == 0
    pair = json.loads(result.stdout)
    assert KeyPair.from_secret(pair["secret"]).public_key == pair["publicKey"]


def documents(text: str) -> list[Any]:
    """The JSON documents printed one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        value, at = decoder.raw_decode(text, at)
        found.append(value)
    return found


def test_keys_add_list_and_revoke_against_a_server(tmp_path: Path) -> None:
    with scratch_site("exchange_cli") as (port, url, database_url):
        env = environment(DATABASE_URL=database_url, EXCHANGE_OPEN_SIGNUP="true", EXCHANGE_BOTS="false")
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/ready")
            result = run("accounts", "create", "--url", url)
            assert result.returncode == 0, result
            (owner,) = documents(result.stdout)
            assert KeyPair.from_secret(owner["secret"]).public_key == owner["publicKey"]
            assert owner["accountId"] >= 1

            mine = KeyPair.generate()
            result = run("accounts", "create", "--url", url, "--key", mine.secret)
            assert result.returncode == 0, result
            (opened,) = documents(result.stdout)
            assert opened["publicKey"] == mine.public_key and "secret" not in opened
            assert opened["accountId"] > owner["accountId"]

            result = run("keys", "add", "--scopes", "read", "--url", url, "--key", owner["secret"])
            assert result.returncode == 0, result
            (added,) = documents(result.stdout)
            assert KeyPair.from_secret(added["secret"]).public_key == added["publicKey"]
            assert added["scopes"] == ["read"] and added["revoked"] is False

            result = run("keys", "list", "--url", url, "--key", added["secret"])
            assert result.returncode == 0, result
            (keys,) = documents(result.stdout)
            assert [k["publicKey"] for k in keys] == [owner["publicKey"], added["publicKey"]]
            assert [k["scopes"] for k in keys] == [["read", "trade"], ["read"]]

            result = run("keys", "add", "--scopes", "trade", "--url", url, "--key", added["secret"])
            assert result.returncode == 1 and "403 FORBIDDEN" in result.stderr, result

            result = run("keys", "revoke", "--public-key", added["publicKey"], "--url", url, "--key", owner["secret"])
            assert result.returncode == 0, result
            assert documents(result.stdout)[0]["revoked"] is True

            result = run("keys", "list", "--url", url, "--key", added["secret"])
            assert result.returncode == 1 and "401 UNAUTHORIZED" in result.stderr, result
            result = run("keys", "list", "--url", url, "--key", owner["secret"])
            assert result.returncode == 0, result
            assert [k["revoked"] for k in documents(result.stdout)[0]] == [False, True]

            result = run("keys", "revoke", "--public-key", "nobody", "--url", url, "--key", owner["secret"])
            assert result.returncode == 1 and "400 INVALID_CLIENT_REQUEST" in result.stderr, result
        finally:
            assert server.terminate() == 0, server.output()


def test_the_operator_lists_blockchains_credits_by_address_and_settles_withdrawals(tmp_path: Path) -> None:
    admin = KeyPair.generate()
    assert run("deposit", "SOL", "1", "--address", "REF").returncode == 2  # an address needs its transaction
    with scratch_site("exchange_cli") as (port, url, database_url):

        def operate(*args: str) -> Any:
            result = run(*args, "--url", url, "--key", admin.secret)
            assert result.returncode == 0, result
            return documents(result.stdout)[0]

        env = environment(DATABASE_URL=database_url, EXCHANGE_ADMIN_PUBLIC_KEY=admin.public_key, EXCHANGE_BOTS="false")
        server = Process([EXCHANGE, "serve", "--port", str(port)], env, tmp_path / "serve.log")
        try:
            server.wait_http(f"{url}/ready")
            assert operate("assets", "add", "SOL", "--decimals", "9", "--blockchains", "Solana,Eclipse")["tokens"]
            keys = KeyPair.generate()
            opened = operate("accounts", "create", "--public-key", keys.public_key)
            trader = Client(url, keys, opened["accountId"])
            eclipse = {"blockchain": "Eclipse"}
            reference = ok(trader.get("/wapi/v1/capital/deposit/address", "depositAddressQuery", eclipse))
            for duplicate in (False, True):
                credited = operate("deposit", "SOL", "10", "--address", reference["address"], "--tx", "EcTx1")
                assert (credited["accountId"], credited["duplicate"]) == (opened["accountId"], duplicate)

            body = {"symbol": "SOL", "quantity": "4", "address": "EcDest", "blockchain": "Eclipse"}
            sent = ok(trader.post("/wapi/v1/capital/withdrawals", "withdraw", {**body, "clientId": "a"}))
            bounced = ok(trader.post("/wapi/v1/capital/withdrawals", "withdraw", {**body, "clientId": "b"}))
            assert [w["id"] for w in operate("withdrawals", "list")] == [sent["id"], bounced["id"]]
            confirmed = operate("withdrawals", "confirm", str(sent["id"]), "--tx", "EcOut1")
            assert (confirmed["status"], confirmed["transactionHash"]) == ("confirmed", "EcOut1")
            assert operate("withdrawals", "fail", str(bounced["id"]))["status"] == "failed"
            assert operate("withdrawals", "list") == []
            assert Decimal(trader.balances()["SOL"]["available"]) == 6
            result = run("withdrawals", "fail", str(sent["id"]), "--url", url, "--key", admin.secret)
            assert result.returncode == 1 and "400 INVALID_CLIENT_REQUEST" in result.stderr, result
        finally:
            assert server.terminate() == 0, server.output()
