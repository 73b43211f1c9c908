"""The process's settings: one typed object read from the environment and a `.env` file.

Every knob the exchange has lives on `Settings`, so the composition root reads the
environment once and passes plain values on. A `.env` file in the working directory
(`NAME=value` lines, as Heroku's and Docker's tools write them) supplies whatever the
environment does not set; a variable in the environment wins over the same one in the
file. Database URLs come in the spellings the hosting platforms use (`postgres://`,
`postgresql://`, with libpq options such as `?sslmode=require`) and are normalized to
the SQLAlchemy asyncpg dialect, the only driver the exchange uses
(`exchange.persistence.database` hands the libpq options to asyncpg).

`local_url` is where this process serves, as a client on the same machine reaches it;
the CLI's commands that call a running exchange default to `EXCHANGE_URL`, else to it.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from exchange.engine.errors import ExchangeError

ASYNC_SCHEME = "postgresql+asyncpg://"
DATABASE_TIMEOUT = 3.0  # float-ok: seconds
"""The default bound of one database round trip made for a request (`Settings.database_timeout`)."""
_SCHEMES = ("postgres://", "postgresql://", "postgresql+asyncpg://")


def normalize_database_url(url: str) -> str:
    """Rewrite `postgres://` and `postgresql://` URLs to the asyncpg dialect's scheme."""
    for scheme in _SCHEMES:
        if url.startswith(scheme):
            return ASYNC_SCHEME + url[len(scheme) :]
    raise ValueError(
        f"DATABASE_URL must be a PostgreSQL URL (postgres:// or postgresql://), got {url.partition(':')[0]}://"
    )


ENV_FILE = ".env"
"""Read from the working directory; the environment wins over it."""


def default_data_dir() -> Path:
    """Where the embedded database and other local state live by default."""
    return Path(platformdirs.user_data_dir("exchange"))


class ProcessRole(StrEnum):
    """What this process runs: everything (the default), the engine alone, or a gateway (see DESIGN.md, Scale)."""

    ALL = "all"
    ENGINE = "engine"
    GATEWAY = "gateway"


class Settings(BaseSettings):
    """Everything configurable, from the environment (see each field's alias)."""

    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, env_file=ENV_FILE, env_file_encoding="utf-8"
    )

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    data_dir: Path = Field(
        default_factory=default_data_dir, validation_alias=AliasChoices("EXCHANGE_DATA_DIR", "data_dir")
    )

    open_signup: bool = Field(default=False, validation_alias=AliasChoices("EXCHANGE_OPEN_SIGNUP", "open_signup"))
    admin_public_key: str | None = Field(
        default=None, validation_alias=AliasChoices("EXCHANGE_ADMIN_PUBLIC_KEY", "admin_public_key")
    )
    cors_origins: list[str] = Field(default=[], validation_alias=AliasChoices("EXCHANGE_CORS_ORIGINS", "cors_origins"))
    ip_rate_limit: float = Field(default=50.0, validation_alias=AliasChoices("EXCHANGE_IP_RATE_LIMIT", "ip_rate_limit"))
    ip_rate_burst: float = Field(
        default=100.0, validation_alias=AliasChoices("EXCHANGE_IP_RATE_BURST", "ip_rate_burst")
    )
    key_rate_limit: float = Field(
        default=20.0, validation_alias=AliasChoices("EXCHANGE_KEY_RATE_LIMIT", "key_rate_limit")
    )
    key_rate_burst: float = Field(
        default=40.0, validation_alias=AliasChoices("EXCHANGE_KEY_RATE_BURST", "key_rate_burst")
    )
    max_body_bytes: int = Field(
        default=65_536, validation_alias=AliasChoices("EXCHANGE_MAX_BODY_BYTES", "max_body_bytes")
    )
    database_timeout: float = Field(
        default=DATABASE_TIMEOUT,
        gt=0,
        le=60,
        validation_alias=AliasChoices("EXCHANGE_DATABASE_TIMEOUT", "database_timeout"),
        description="seconds a request's database work (and the engine's commit) may take before 503",
    )
    request_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        validation_alias=AliasChoices("EXCHANGE_REQUEST_TIMEOUT", "request_timeout"),
        description="seconds a client has to send a whole request (headers and body) before 408 and close",
    )

    ws_max_connections_per_ip: int = Field(
        default=100,
        ge=1,
        validation_alias=AliasChoices("EXCHANGE_WS_MAX_CONNECTIONS_PER_IP", "ws_max_connections_per_ip"),
        description="websocket connections one client address may hold; the next is closed with 1008",
    )
    ws_max_subscriptions: int = Field(
        default=100,
        ge=1,
        validation_alias=AliasChoices("EXCHANGE_WS_MAX_SUBSCRIPTIONS", "ws_max_subscriptions"),
        description="streams one websocket may subscribe to; past it, error 4005",
    )
    ws_max_frame_bytes: int = Field(
        default=16_384,
        ge=1,
        validation_alias=AliasChoices("EXCHANGE_WS_MAX_FRAME_BYTES", "ws_max_frame_bytes"),
        description="largest frame a client may send; a longer one closes the socket with 1009",
    )
    ws_max_malformed: int = Field(
        default=10,
        ge=0,
        validation_alias=AliasChoices("EXCHANGE_WS_MAX_MALFORMED", "ws_max_malformed"),
        description="malformed frames answered with error 4002 before the next closes the socket with 1008",
    )
    ws_max_queued_bytes: int = Field(
        default=1 << 20,
        ge=1,
        validation_alias=AliasChoices("EXCHANGE_WS_MAX_QUEUED_BYTES", "ws_max_queued_bytes"),
        description="bytes of frames queued for one client; past it the slow consumer is closed with 1008",
    )
    ws_send_buffer_bytes: int = Field(
        default=65_536,
        ge=0,
        validation_alias=AliasChoices("EXCHANGE_WS_SEND_BUFFER_BYTES", "ws_send_buffer_bytes"),
        description="kernel send buffer (SO_SNDBUF) of each websocket socket; 0 leaves the kernel's default",
    )
    ws_close_timeout: float = Field(
        default=1.0,
        gt=0,
        le=60,
        validation_alias=AliasChoices("EXCHANGE_WS_CLOSE_TIMEOUT", "ws_close_timeout"),
        description="seconds to try sending a close frame before giving the socket up",
    )

    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "host"))
    port: int = Field(default=8000, ge=1, le=65_535, validation_alias=AliasChoices("PORT", "port"))
    exchange_url: str | None = Field(default=None, validation_alias=AliasChoices("EXCHANGE_URL", "exchange_url"))
    demo: bool = Field(default=False, validation_alias=AliasChoices("EXCHANGE_DEMO", "demo"))
    standby: bool = Field(default=False, validation_alias=AliasChoices("EXCHANGE_STANDBY", "standby"))
    role: ProcessRole = Field(default=ProcessRole.ALL, validation_alias=AliasChoices("EXCHANGE_ROLE", "role"))
    redis_url: str | None = Field(
        default=None, validate_default=True, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    engine_timeout: float = Field(  # float-ok: seconds
        default=5.0,
        gt=0,
        le=300,
        validation_alias=AliasChoices("EXCHANGE_ENGINE_TIMEOUT", "engine_timeout"),
        description="How long a gateway waits for the engine's reply before answering 503.",
    )
    """Wait for the database's engine claim instead of asking the active engine to hand over."""
    bots: bool | None = Field(default=None, validation_alias=AliasChoices("EXCHANGE_BOTS", "bots"))
    bot_markets: Annotated[list[str], NoDecode] = Field(
        default=[], validation_alias=AliasChoices("EXCHANGE_BOT_MARKETS", "bot_markets")
    )
    bot_levels: int = Field(
        default=10, ge=1, le=100, validation_alias=AliasChoices("EXCHANGE_BOT_LEVELS", "bot_levels")
    )
    bot_interval: float = Field(
        default=1.0, gt=0, le=3_600, validation_alias=AliasChoices("EXCHANGE_BOT_INTERVAL", "bot_interval")
    )
    taker_interval: float = Field(
        default=1.5, gt=0, le=3_600, validation_alias=AliasChoices("EXCHANGE_TAKER_INTERVAL", "taker_interval")
    )
    bot_seed: int | None = Field(default=None, validation_alias=AliasChoices("EXCHANGE_BOT_SEED", "bot_seed"))
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("EXCHANGE_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", validation_alias=AliasChoices("EXCHANGE_LOG_FORMAT", "log_format")
    )

    @field_validator("database_url")
    @classmethod
    def _normalize_database_url(cls, value: str | None) -> str | None:
        return normalize_database_url(value) if value else None

    @field_validator("role")
    @classmethod
    def _shared_database_for_split_roles(cls, value: ProcessRole, info: ValidationInfo) -> ProcessRole:
        if value is not ProcessRole.ALL and not info.data.get("database_url"):
            raise ValueError(f"role {value.value} needs the shared database: set DATABASE_URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_for_split_roles(cls, value: str | None, info: ValidationInfo) -> str | None:
        role = info.data.get("role")
        if role is not None and role is not ProcessRole.ALL and not value:
            raise ValueError(f"role {role.value} needs Redis: set REDIS_URL (redis:// or rediss://)")
        if value and not value.startswith(("redis://", "rediss://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("bot_markets", mode="before")
    @classmethod
    def _split_markets(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if not isinstance(logging.getLevelNamesMapping().get(level), int):
            raise ValueError(f"must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {value!r}")
        return level

    @property
    def local_url(self) -> str:
        """`http://HOST:PORT` of this process, with a wildcard HOST (`0.0.0.0`, `::`) as 127.0.0.1."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def client_url(self) -> str:
        """The exchange the CLI calls: `EXCHANGE_URL`, else this machine's `local_url` (PORT, default 8000)."""
        return self.exchange_url or self.local_url

    @property
    def bots_enabled(self) -> bool:
        """The in-process market maker and taker run: EXCHANGE_BOTS if set, else in demo mode."""
        return self.demo if self.bots is None else self.bots


class ConfigError(ExchangeError):
    """Bad configuration; the message names the environment variable to fix."""


def load_settings(**overrides: Any) -> Settings:
    """Read `Settings` from the environment (and `overrides`), or raise ConfigError naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "?"
            problems.append(f"{_variable(name)}: {item['msg']}")
        raise ConfigError("bad configuration: " + "; ".join(problems)) from None
    except SettingsError as error:
        field = re.search(r'field "(\w+)"', str(error))
        name = _variable(field.group(1)) if field else "the environment"
        raise ConfigError(f"bad configuration: {name}: not valid JSON ({error.__cause__ or error})") from None


def _variable(name: str) -> str:
    """The environment variable of a field (or of one of its aliases), as the operator spells it."""
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [field_name]
        if name == field_name or name in choices:
            return choices[0]
    return name
