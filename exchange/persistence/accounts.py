"""Accounts and their API keys in the database: the statements the API and the bots run on them.

`Accounts` is the one place that reads and writes the `accounts`, `api_keys` and
`deposit_addresses` tables. It speaks in plain values (account ids, public keys, scope names as strings,
times as integer microseconds); what a scope means, and how a refusal reads on the
wire, is the API's business.

Every call is one bounded round trip (`exchange.persistence.database.bounded`, given
the configured `timeout`): a database that is down, refuses or does not answer in
time raises `DatabaseUnavailableError`, which the API answers with 503. Writes run in
one transaction each.

Invariants the statements keep:

- A public key is registered at most once (the table's primary key): adding one that
  exists, to any account, changes nothing and is refused with `KeyRefusal.REGISTERED`.
- An account holds at most `limit` unrevoked keys. `add_key` takes the account's row
  lock before it counts, so concurrent adds to one account are serialised and none of
  them can overshoot the limit (`KeyRefusal.FULL`).
- An account has at most one deposit reference per blockchain (a unique constraint), made
  on first request and never changed, and a reference names one account: the on-ramp
  credits by it. It is random (`secrets`), so nobody can guess another account's.
- Revoking only ever sets `revoked`; a key's row is never deleted, so the history of
  an account's keys stays listable.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exchange.config import DATABASE_TIMEOUT
from exchange.persistence import tables
from exchange.persistence.database import bounded
from exchange.persistence.timestamps import to_micros


class KeyRefusal(enum.Enum):
    """Why a key was not registered (nothing was written)."""

    REGISTERED = "the public key is registered already"
    FULL = "the account holds its limit of unrevoked keys"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredKey:
    """One row of `api_keys`: scope names as stored, `created_at` in µs."""

    public_key: str
    account_id: int
    scopes: tuple[str, ...]
    created_at: int
    revoked: bool

    @staticmethod
    def of(row: Any) -> StoredKey:
        """The key of a selected `api_keys` row."""
        return StoredKey(
            public_key=row.public_key,
            account_id=int(row.account_id),
            scopes=tuple(row.scopes),
            created_at=to_micros(row.created_at),
            revoked=bool(row.revoked),
        )


def _names(scopes: Iterable[str]) -> list[str]:
    """Scope names as stored: plain strings, sorted."""
    return sorted(str(scope) for scope in scopes)


_KEYS = tables.api_keys.c
_ACCOUNTS = tables.accounts.c
_ADDRESSES = tables.deposit_addresses.c
_KEY_COLUMNS = (_KEYS.public_key, _KEYS.account_id, _KEYS.scopes, _KEYS.created_at, _KEYS.revoked)


class Accounts:
    """Accounts and API keys of one database; each call bounded by `timeout` seconds."""

    def __init__(self, db: AsyncEngine, *, timeout: float = DATABASE_TIMEOUT) -> None:  # float-ok: seconds
        self._db = db
        self._timeout = timeout

    async def lookup_key(self, public_key: str) -> StoredKey | None:
        """The key if it is registered and not revoked."""
        query = select(*_KEY_COLUMNS).where(_KEYS.public_key == public_key, _KEYS.revoked.is_(False))

        async def read(connection: AsyncConnection) -> Any:
            return (await connection.execute(query)).first()

        row = await bounded(self._db, read, seconds=self._timeout)
        return None if row is None else StoredKey.of(row)

    async def create_account(self, public_key: str, scopes: Iterable[str], label: str | None) -> int | KeyRefusal:
        """A new account's id, with `public_key` as its first key; REGISTERED (and no account) if the key exists."""

        async def write(connection: AsyncConnection) -> Any:
            account_id = await connection.scalar(insert(tables.accounts).values(label=label).returning(_ACCOUNTS.id))
            await connection.execute(
                insert(tables.api_keys).values(public_key=public_key, account_id=account_id, scopes=_names(scopes))
            )
            return account_id

        try:
            account_id = await bounded(self._db, write, seconds=self._timeout, begin=True)
        except IntegrityError:
            return KeyRefusal.REGISTERED
        return int(account_id)

    async def add_key(
        self, account_id: int, public_key: str, scopes: Iterable[str], *, limit: int
    ) -> StoredKey | KeyRefusal:
        """Register another key of an account holding fewer than `limit` unrevoked keys; else why not."""

        async def write(connection: AsyncConnection) -> Any:
            # The account's row lock serialises concurrent adds, so none of them can overshoot the limit.
            await connection.execute(select(_ACCOUNTS.id).where(_ACCOUNTS.id == account_id).with_for_update())
            active = await connection.scalar(
                select(func.count()).where(_KEYS.account_id == account_id, _KEYS.revoked.is_(False))
            )
            if (active or 0) >= limit:
                return KeyRefusal.FULL
            added = insert(tables.api_keys).values(public_key=public_key, account_id=account_id, scopes=_names(scopes))
            return (await connection.execute(added.returning(*_KEY_COLUMNS))).one()

        try:
            row = await bounded(self._db, write, seconds=self._timeout, begin=True)
        except IntegrityError:
            return KeyRefusal.REGISTERED
        return row if isinstance(row, KeyRefusal) else StoredKey.of(row)

    async def keys_of(self, account_id: int, public_key: str | None = None) -> list[StoredKey]:
        """The account's keys, revoked ones too, oldest first (only `public_key`, if given)."""
        query = select(*_KEY_COLUMNS).where(_KEYS.account_id == account_id).order_by(_KEYS.created_at, _KEYS.public_key)
        if public_key is not None:
            query = query.where(_KEYS.public_key == public_key)

        async def read(connection: AsyncConnection) -> list[StoredKey]:
            return [StoredKey.of(row) for row in await connection.execute(query)]

        return await bounded(self._db, read, seconds=self._timeout)

    async def revoke_key(self, public_key: str) -> None:
        """Mark the key revoked (a no-op for an unknown key)."""
        revoke = update(tables.api_keys).where(_KEYS.public_key == public_key).values(revoked=True)

        async def write(connection: AsyncConnection) -> None:
            await connection.execute(revoke)

        await bounded(self._db, write, seconds=self._timeout, begin=True)

    async def deposit_address(self, account_id: int, blockchain: str) -> str:
        """The account's deposit reference on `blockchain`, made on first request (the same ever after)."""
        made = f"{blockchain[:3].lower()}{secrets.token_hex(16)}"
        add = (
            pg_insert(tables.deposit_addresses)
            .values(address=made, account_id=account_id, blockchain=blockchain)
            .on_conflict_do_nothing(index_elements=["account_id", "blockchain"])
        )
        find = select(_ADDRESSES.address).where(
            _ADDRESSES.account_id == account_id, _ADDRESSES.blockchain == blockchain
        )

        async def write(connection: AsyncConnection) -> Any:
            await connection.execute(add)
            return await connection.scalar(find)

        return str(await bounded(self._db, write, seconds=self._timeout, begin=True))

    async def deposit_owner(self, address: str) -> tuple[int, str] | None:
        """(account id, blockchain) of a deposit reference, None for an unknown one."""
        query = select(_ADDRESSES.account_id, _ADDRESSES.blockchain).where(_ADDRESSES.address == address)

        async def read(connection: AsyncConnection) -> Any:
            return (await connection.execute(query)).first()

        row = await bounded(self._db, read, seconds=self._timeout)
        return None if row is None else (int(row.account_id), str(row.blockchain))

    async def ensure_account(self, label: str) -> int:
        """The id of the oldest account labelled `label`, created if there is none."""

        async def write(connection: AsyncConnection) -> Any:
            found = await connection.scalar(
                select(_ACCOUNTS.id).where(_ACCOUNTS.label == label).order_by(_ACCOUNTS.id).limit(1)
            )
            if found is None:
                found = await connection.scalar(insert(tables.accounts).values(label=label).returning(_ACCOUNTS.id))
            return found

        return int(await bounded(self._db, write, seconds=self._timeout, begin=True))
