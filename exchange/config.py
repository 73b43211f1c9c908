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
ENV_PREFIX = "EXCHANGE_"
"""A field is read from `EXCHANGE_<FIELD NAME>` unless its alias names its variables (`DATABASE_URL`, `PORT`...)."""


def default_data_dir() -> Path:
    """Where the embedded database and other local state live by default."""
    return Path(platformdirs.user_data_dir("exchange"))


class ProcessRole(StrEnum):
    """What this process runs: everything (the default), the engine alone, or a gateway (see DESIGN.md, Scale)."""

    ALL = "all"
    ENGINE = "engine"
    GATEWAY = "gateway"


class Settings(BaseSettings):
    """Everything configurable, from the environment: `EXCHANGE_<FIELD>`, or the variables a field's alias names."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        use_attribute_docstrings=True,
        extra="ignore",
        populate_by_name=True,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
    )

    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    """redis:// or rediss:// URL of the Redis that gateways share; unset: one process, all in memory."""
    data_dir: Path = Field(default_factory=default_data_dir)

    open_signup: bool = False
    admin_public_key: str | None = None
    cors_origins: list[str] = []
    ip_rate_limit: float = 50.0
    ip_rate_burst: float = 100.0
    key_rate_limit: float = 20.0
    key_rate_burst: float = 40.0
    max_body_bytes: int = 65_536
    database_timeout: float = Field(default=DATABASE_TIMEOUT, gt=0, le=60)
    """Seconds a request's database work (and the engine's commit) may take before 503."""
    request_timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds a client has to send a whole request (headers and body) before 408 and close."""

    ws_max_connections_per_ip: int = Field(default=100, ge=1)
    """Websocket connections one client address may hold; the next is closed with 1008."""
    ws_max_subscriptions: int = Field(default=100, ge=1)
    """Streams one websocket may subscribe to; past it, error 4005."""
    ws_max_frame_bytes: int = Field(default=16_384, ge=1)
    """Largest frame a client may send; a longer one closes the socket with 1009."""
    ws_max_malformed: int = Field(default=10, ge=0)
    """Malformed frames answered with error 4002 before the next closes the socket with 1008."""
    ws_max_queued_bytes: int = Field(default=1 << 20, ge=1)
    """Bytes of frames queued for one client; past it the slow consumer is closed with 1008."""
    ws_send_buffer_bytes: int = Field(default=65_536, ge=0)
    """Kernel send buffer (SO_SNDBUF) of each websocket socket; 0 leaves the kernel's default."""
    ws_close_timeout: float = Field(default=1.0, gt=0, le=60)
    """Seconds to try sending a close frame before giving the socket up."""

    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("HOST", "host"))
    port: int = Field(default=8000, ge=1, le=65_535, validation_alias=AliasChoices("PORT", "port"))
    exchange_url: str | None = Field(default=None, validation_alias=AliasChoices("EXCHANGE_URL", "exchange_url"))
    demo: bool = False
    role: ProcessRole = ProcessRole.ALL
    """What this process runs: all (the default), engine or gateway (the split roles need REDIS_URL)."""
    engine_timeout: float = Field(default=5.0, gt=0, le=300)  # float-ok: seconds
    """How long a gateway waits for the engine's reply before answering 503."""
    standby: bool = False
    """Wait for the database's engine claim instead of asking the active engine to hand over."""
    bots: bool | None = None
    bot_markets: Annotated[list[str], NoDecode] = []
    bot_levels: int = Field(default=10, ge=1, le=100)
    bot_interval: float = Field(default=1.0, gt=0, le=3_600)
    taker_interval: float = Field(default=1.5, gt=0, le=3_600)
    bot_seed: int | None = None
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("EXCHANGE_LOG_LEVEL", "LOG_LEVEL", "log_level")
    )
    log_format: Literal["auto", "json", "text"] = "auto"
    loop_monitor: bool = False
    """Measure the event loop's longest stall for `/metrics` (`exchange_event_loop_stall_seconds`)."""

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
        choices = (
            [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else [ENV_PREFIX + field_name.upper()]
        )
        if name == field_name or name in choices:
            return choices[0]
    return name
