"""Settings: database URLs in the platforms' spellings become asyncpg URLs; the data directory is configurable."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ConfigError, Settings, load_settings, normalize_database_url


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


def test_a_dotenv_file_fills_in_what_the_environment_does_not_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("DATABASE_URL", "EXCHANGE_BOT_LEVELS", "PORT", "EXCHANGE_OPEN_SIGNUP"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(
        "# comments and blank lines are fine\n\n"
        "DATABASE_URL=postgres://u:p@db.example/app?sslmode=require\n"
        "EXCHANGE_BOT_LEVELS=7\n"
        "PORT=9001\n"
        "SOMETHING_ELSE=ignored\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PORT", "9002")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://u:p@db.example/app?sslmode=require"
    assert settings.bot_levels == 7
    assert settings.port == 9002  # the environment wins over the file
    (tmp_path / ".env").write_text("EXCHANGE_BOT_LEVELS=0\n")
    with pytest.raises(ConfigError, match="EXCHANGE_BOT_LEVELS"):
        load_settings()


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "9123"}, "http://127.0.0.1:9123"),
        ({"PORT": "9123", "HOST": "0.0.0.0"}, "http://127.0.0.1:9123"),
        ({"PORT": "9123", "HOST": "::1"}, "http://[::1]:9123"),
        ({"PORT": "9123", "EXCHANGE_URL": "https://x.example"}, "https://x.example"),
    ],
)
def test_the_cli_calls_exchange_url_else_this_machines_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PORT", "HOST", "EXCHANGE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert Settings().client_url == expected


WS_DEFAULTS = {
    "EXCHANGE_WS_MAX_CONNECTIONS_PER_IP": ("ws_max_connections_per_ip", 100),
    "EXCHANGE_WS_MAX_SUBSCRIPTIONS": ("ws_max_subscriptions", 100),
    "EXCHANGE_WS_MAX_FRAME_BYTES": ("ws_max_frame_bytes", 16_384),
    "EXCHANGE_WS_MAX_MALFORMED": ("ws_max_malformed", 10),
    "EXCHANGE_WS_MAX_QUEUED_BYTES": ("ws_max_queued_bytes", 1 << 20),
    "EXCHANGE_WS_SEND_BUFFER_BYTES": ("ws_send_buffer_bytes", 65_536),
    "EXCHANGE_WS_CLOSE_TIMEOUT": ("ws_close_timeout", 1.0),
}
"""The websocket limits' variables, their `Settings` fields and defaults (as `StreamSettings` had them)."""


def test_the_websocket_limits_are_settings_read_from_exchange_ws_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for variable in WS_DEFAULTS:
        monkeypatch.delenv(variable, raising=False)
    defaults = load_settings()
    assert {v: getattr(defaults, field) for v, (field, _) in WS_DEFAULTS.items()} == {
        v: default for v, (_, default) in WS_DEFAULTS.items()
    }
    for variable in WS_DEFAULTS:
        monkeypatch.setenv(variable, "7")
    assert {getattr(load_settings(), field) for field, _ in WS_DEFAULTS.values()} == {7}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("EXCHANGE_WS_MAX_CONNECTIONS_PER_IP", "0"),
        ("EXCHANGE_WS_CLOSE_TIMEOUT", "-1"),
        ("EXCHANGE_WS_MAX_FRAME_BYTES", "x"),
    ],
)
def test_a_bad_websocket_limit_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()
