"""Settings: database URLs in the platforms' spellings become asyncpg URLs; the data directory is configurable."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import Settings, normalize_database_url


@pytest.mark.parametrize(
    "given",
    [
        "postgres://u:p@db.example:5432/app",
        "postgresql://u:p@db.example:5432/app",
        "postgresql+asyncpg://u:p@db.example:5432/app",
    ],
)
def test_database_urls_are_normalized_to_asyncpg(given: str) -> None:
    assert normalize_database_url(given) == "postgresql+asyncpg://u:p@db.example:5432/app"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    monkeypatch.setenv("EXCHANGE_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert (settings.database_url, settings.data_dir) == ("postgresql+asyncpg://u@h/d", tmp_path)


def test_no_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL", "")
    assert Settings().database_url is None


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        normalize_database_url("mysql://u@h/d")
