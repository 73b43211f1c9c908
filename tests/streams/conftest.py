"""A real server for the stream tests: the API tests' uvicorn fixture over its own fresh database.

The streams need a book whose every change the test made, so this server is not the
API tests' shared one: it is built with the same builders (`_serve`, `_settings`,
`list_markets`), listed with SOL/USDC and BTC/USDC, and has two funded accounts; its
stream limits (`STREAM_LIMITS`) are small.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.api.auth import KeyPair
from tests.api.client import Client
from tests.api.conftest import Exchange, _serve, _settings, database_name, list_markets

__all__ = ["database_name"]

STREAM_LIMITS = {"ws_max_queued_bytes": 32_768, "ws_max_connections_per_ip": 12}
"""Small limits (`Settings` fields), so the slow-consumer and cap tests finish quickly."""


@pytest.fixture(scope="session")
def streams_exchange(database_name: str) -> Iterator[Exchange]:
    """A server for the stream tests: two markets, Alice and Bob with 1000 SOL, 1 BTC and 100000 USDC each."""
    admin_keys = KeyPair.generate()
    name = f"{database_name}_streams"
    settings = _settings(name, admin_keys, **STREAM_LIMITS)
    for url in _serve(settings, name):
        admin = Client(url, admin_keys)
        list_markets(admin)
        shared = Exchange(url=url, admin=admin, alice=admin, bob=admin, settings=settings)
        shared.open_alice_and_bob()
        yield shared
