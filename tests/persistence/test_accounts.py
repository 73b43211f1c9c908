"""The accounts-and-keys store: a key is registered once, an account's live keys are capped, refusals write nothing.

Each test runs `Accounts` against a fresh migrated database. Refusals are typed
results (`KeyRefusal`), and the tables afterwards show that a refused call changed
nothing: no half-made account, no extra key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from exchange.persistence import tables
from exchange.persistence.accounts import Accounts, KeyRefusal, StoredKey
from exchange.persistence.database import create_engine

T = TypeVar("T")


def with_accounts(database_url: str, work: Callable[[Accounts, AsyncEngine], Awaitable[T]]) -> T:
    """Run `work` on an `Accounts` of the database at `database_url` (and its engine, to look at the tables)."""

    async def run() -> T:
        db = create_engine(database_url)
        try:
            return await work(Accounts(db, timeout=5), db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_a_key_is_registered_once_and_a_refused_account_is_not_made(database_url: str) -> None:
    async def work(accounts: Accounts, db: AsyncEngine) -> None:
        first = await accounts.create_account("k1", ["trade", "read"], "alice")
        assert isinstance(first, int)
        assert await accounts.create_account("k1", ["read"], "mallory") is KeyRefusal.REGISTERED
        assert await accounts.add_key(first, "k1", ["read"], limit=10) is KeyRefusal.REGISTERED
        async with db.connect() as connection:
            labels = (await connection.execute(select(tables.accounts.c.label))).scalars().all()
        assert labels == ["alice"]
        key = await accounts.lookup_key("k1")
        assert key is not None and (key.account_id, key.scopes, key.revoked) == (first, ("read", "trade"), False)

    with_accounts(database_url, work)


def test_an_account_holds_at_most_limit_unrevoked_keys_even_when_adds_race(database_url: str) -> None:
    async def work(accounts: Accounts, db: AsyncEngine) -> None:
        account = await accounts.create_account("k0", ["read"], None)
        assert isinstance(account, int)
        results = await asyncio.gather(*(accounts.add_key(account, f"k{n}", ["read"], limit=3) for n in range(1, 6)))
        assert sum(isinstance(r, StoredKey) for r in results) == 2
        assert sum(r is KeyRefusal.FULL for r in results) == 3
        assert len(await accounts.keys_of(account)) == 3
        await accounts.revoke_key("k0")
        added = await accounts.add_key(account, "k9", ["read", "trade"], limit=3)
        assert isinstance(added, StoredKey) and added.scopes == ("read", "trade") and not added.revoked

    with_accounts(database_url, work)


def test_keys_are_listed_oldest_first_and_a_revoked_key_is_listed_but_not_found(database_url: str) -> None:
    async def work(accounts: Accounts, db: AsyncEngine) -> None:
        account = await accounts.create_account("a", ["read"], None)
        assert isinstance(account, int)
        await accounts.add_key(account, "b", ["trade"], limit=10)
        await accounts.revoke_key("a")
        keys = await accounts.keys_of(account)
        assert [(k.public_key, k.revoked) for k in keys] == [("a", True), ("b", False)]
        assert keys[0].created_at <= keys[1].created_at
        assert [k.public_key for k in await accounts.keys_of(account, "b")] == ["b"]
        assert await accounts.lookup_key("a") is None
        assert await accounts.keys_of(account + 1) == []

    with_accounts(database_url, work)


def test_ensure_account_finds_the_labelled_account_again(database_url: str) -> None:
    async def work(accounts: Accounts, db: AsyncEngine) -> None:
        maker = await accounts.ensure_account("bot:market-maker")
        assert await accounts.ensure_account("bot:market-maker") == maker
        assert await accounts.ensure_account("bot:taker") != maker

    with_accounts(database_url, work)
