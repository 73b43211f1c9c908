"""Real PostgreSQL for the persistence tests: one migrated template per session, a fresh copy per test.

The template is a scratch database migrated once with `upgrade`; each test gets a copy
of it (`tests.support.databases`), dropped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import make_url

from exchange.persistence.database import upgrade
from tests.support.databases import scratch


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """The name of a migrated database that tests clone."""
    with scratch("exchange_test_template") as url:
        upgrade(url)
        name = make_url(url).database
        assert name is not None
        yield name


@pytest.fixture
def database_url(template_database: str) -> Iterator[str]:
    """URL of a fresh, migrated, empty database of this test's own."""
    with scratch("exchange_test", template=template_database) as url:
        yield url
