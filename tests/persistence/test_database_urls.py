"""DATABASE_URL in the forms hosted PostgreSQL providers hand out, with libpq's query options.

The test server speaks no SSL, so `sslmode=disable` and `prefer` must connect, and every
mode that insists on SSL must get as far as asking the server for it and come back with
one line saying the server refused, never a TypeError about an unknown keyword. The
migrations (alembic's own engine) see the same options as the app's engine.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import certifi
import pytest
from sqlalchemy import text

from exchange.config import Settings
from exchange.persistence.database import DatabaseUnavailableError, asyncpg_dsn, open_database, upgrade
from tests.support.databases import plain, scratch


async def setting(url: str, name: str) -> str:
    """The value of server setting `name` on a connection opened the way the exchange opens them."""
    async with open_database(Settings(database_url=url)) as db, db.connect() as connection:
        return str(await connection.scalar(text(f"SHOW {name}")))


def refusal(url: str) -> str:
    """The one-line reason opening `url` fails."""
    with pytest.raises(DatabaseUnavailableError) as failure:
        asyncio.run(setting(url, "server_version"))
    message = str(failure.value)
    assert "\n" not in message and message.startswith("cannot open the database (DATABASE_URL): ")
    return message


@pytest.mark.parametrize("query", ["sslmode=disable", "sslmode=prefer", "sslmode=allow"])
def test_modes_that_allow_plain_connections_connect(query: str) -> None:
    with scratch("exchange_test_url") as url:
        for scheme in ("postgres://", "postgresql://"):
            given = plain(url).replace("postgresql://", scheme) + "?" + query
            assert asyncio.run(setting(given, "server_version"))


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=require",
        "sslmode=require&channel_binding=require",  # as Neon gives it
        "sslmode=verify-ca&sslrootcert=" + quote(certifi.where()),
        "sslmode=verify-full&sslrootcert=" + quote(certifi.where()),
    ],
)
def test_modes_that_insist_on_ssl_ask_for_it_and_report_the_refusal_in_one_line(query: str) -> None:
    with scratch("exchange_test_url") as url:
        message = refusal(f"{plain(url)}?{query}")
    assert "rejected SSL upgrade" in message, message


def test_options_and_application_name_reach_the_server() -> None:
    with scratch("exchange_test_url") as url:
        given = f"{plain(url)}?options={quote('-c statement_timeout=4321')}&application_name=hosted&connect_timeout=10"
        assert asyncio.run(setting(given, "statement_timeout")) == "4321ms"
        assert asyncio.run(setting(given, "application_name")) == "hosted"


def test_migrations_use_the_same_options() -> None:
    with scratch("exchange_test_url") as url:
        upgrade(f"{plain(url)}?sslmode=disable&channel_binding=prefer")
        assert asyncio.run(setting(f"{plain(url)}?sslmode=prefer", "server_version"))
        with pytest.raises(Exception, match="rejected SSL upgrade"):
            upgrade(f"{plain(url)}?sslmode=require")


def test_options_asyncpg_cannot_honour_are_dropped_from_its_dsn() -> None:
    dsn = asyncpg_dsn("postgres://u:p@h:5432/d?sslmode=require&channel_binding=require&connect_timeout=5&options=x")
    assert dsn == "postgresql://u:p@h:5432/d?options=x&sslmode=require"


def test_an_unreachable_server_is_one_line_too() -> None:
    assert "ConnectionRefusedError" in refusal("postgres://postgres@127.0.0.1:9/nowhere?sslmode=prefer")
