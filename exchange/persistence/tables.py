"""The schema: the one SQLAlchemy `MetaData` that migrations, the writer and the queries share.

Invariants of the stored data:

- Every amount is NUMERIC in human decimal units (a price in quote per base, a quantity
  in base, a balance in its asset), converted exactly from the engine's integers with
  the `Asset`/`Market` methods of `exchange.engine.numbers`; nothing is ever a float.
- Every time is `timestamptz`. The engine's timestamps are integer microseconds since
  the epoch and PostgreSQL keeps microseconds, so the conversion is exact both ways
  (`exchange.persistence.timestamps`).
- The engine is the authority on balances, orders and trades; the database holds what
  it committed. Accounts and API keys are the API's records; engine tables name
  accounts by id without a foreign key, because the engine knows nothing of them
  (the fee account 0 has no row, for one). The hot tables the writer appends to and
  overwrites on every batch (orders, trades, balances, candles) carry no foreign keys
  either: the engine only emits events for listed markets and assets, and a per-row
  foreign-key check would cost a large share of the write rate for no protection.
- Open orders (status New or PartiallyFilled) plus balances, markets (with their depth
  sequence), applied transfer ids and pending withdrawals are exactly what recovery needs to rebuild the
  engine; the id counters are the largest order and trade ids plus one.
- `engine_claim` names the one engine that may commit: every commit checks, inside its
  own transaction, that the epoch it claimed is still the row's (`claim.py`).
- Orders and balances are overwritten in place on every batch. No index covers a
  column that changes (status, executed amounts, balances), and the pages keep free
  space (fillfactor), so those updates are HOT: no index is touched. The price is
  that recovery finds open orders by scanning `orders` once at startup.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

OPEN_STATUSES = ("New", "PartiallyFilled")
"""Order statuses of orders still on the book (Backpack's wire values)."""


def _timestamp(name: str, **kwargs: object) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=False, **kwargs)  # type: ignore[arg-type]


assets = Table(
    "assets",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("decimals", Integer, nullable=False),
    _timestamp("created_at"),
    Column("blockchains", ARRAY(Text), nullable=False, server_default=text("'{Solana}'")),
)

markets = Table(
    "markets",
    metadata,
    Column("symbol", Text, primary_key=True),
    Column("base", Text, ForeignKey("assets.symbol"), nullable=False),
    Column("quote", Text, ForeignKey("assets.symbol"), nullable=False),
    Column("tick_size", Numeric, nullable=False),
    Column("step_size", Numeric, nullable=False),
    Column("min_quantity", Numeric, nullable=False),
    Column("maker_fee_bps", Integer, nullable=False),
    Column("taker_fee_bps", Integer, nullable=False),
    Column("band_min", Numeric, comment="the price band's lowest multiple of the last trade price (NULL: no band)"),
    Column("band_max", Numeric, comment="the price band's highest multiple of the last trade price"),
    Column("sequence", BigInteger, nullable=False, server_default=text("0")),
    Column("halted", Boolean, nullable=False, server_default=text("false")),
    _timestamp("created_at"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    _timestamp("created_at", server_default=text("now()")),
    Column("label", Text),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("public_key", Text, primary_key=True, comment="ED25519 public key, base64"),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("scopes", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    _timestamp("created_at", server_default=text("now()")),
    Column("revoked", Boolean, nullable=False, server_default=text("false")),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", BigInteger, nullable=False),
    Column("asset", Text, nullable=False),
    Column("available", Numeric, nullable=False),
    Column("locked", Numeric, nullable=False),
    PrimaryKeyConstraint("account_id", "asset"),
    postgresql_with={"fillfactor": 70},
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("side", Text, nullable=False),
    Column("order_type", Text, nullable=False),
    Column("price", Numeric),
    Column("quantity", Numeric),
    Column("quote_quantity", Numeric),
    Column("time_in_force", Text, nullable=False),
    Column("post_only", Boolean, nullable=False),
    Column("self_trade_prevention", Text, nullable=False),
    Column("client_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("executed_quantity", Numeric, nullable=False),
    Column("executed_quote_quantity", Numeric, nullable=False),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    Index("ix_orders_account_id_id", "account_id", "id"),
    postgresql_with={"fillfactor": 80},
)

trades = Table(
    "trades",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("symbol", Text, nullable=False),
    Column("price", Numeric, nullable=False),
    Column("quantity", Numeric, nullable=False),
    Column("quote_quantity", Numeric, nullable=False),
    Column("taker_side", Text, nullable=False),
    Column("is_buyer_maker", Boolean, nullable=False),
    Column("maker_order_id", BigInteger, nullable=False),
    Column("taker_order_id", BigInteger, nullable=False),
    Column("maker_account_id", BigInteger, nullable=False),
    Column("taker_account_id", BigInteger, nullable=False),
    Column("maker_fee", Numeric, nullable=False),
    Column("taker_fee", Numeric, nullable=False),
    Column("maker_fee_asset", Text, nullable=False),
    Column("taker_fee_asset", Text, nullable=False),
    _timestamp("ts"),
    Index("ix_trades_symbol_id", "symbol", "id"),
    Index("ix_trades_maker_account_id_id", "maker_account_id", "id"),
    Index("ix_trades_taker_account_id_id", "taker_account_id", "id"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("transfer_id", Text, primary_key=True),
    Column("id", BigInteger, Identity(), nullable=False, unique=True, comment="the public number, in commit order"),
    Column("kind", Text, nullable=False, comment="deposit or withdrawal"),
    Column("account_id", BigInteger, nullable=False, index=True),
    Column("asset", Text, ForeignKey("assets.symbol"), nullable=False),
    Column("amount", Numeric, nullable=False),
    _timestamp("ts"),
    Column("status", Text, nullable=False, server_default=text("'confirmed'"), comment="pending, confirmed or failed"),
    Column("blockchain", Text),
    Column("address", Text, comment="a deposit's reference, a withdrawal's destination"),
    Column("transaction_hash", Text),
)

PENDING, CONFIRMED, FAILED = "pending", "confirmed", "failed"
"""The statuses of a transfer (Backpack's wire values). Only a withdrawal to a chain is ever pending."""

deposit_addresses = Table(
    "deposit_addresses",
    metadata,
    Column("address", Text, primary_key=True, comment="the reference the on-ramp credits by"),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("blockchain", Text, nullable=False),
    _timestamp("created_at", server_default=text("now()")),
    UniqueConstraint("account_id", "blockchain"),
)
"""Each account's stable deposit reference per blockchain (an API record, like its keys)."""

candles_1m = Table(
    "candles_1m",
    metadata,
    Column("symbol", Text, nullable=False),
    _timestamp("bucket"),
    Column("open", Numeric, nullable=False),
    Column("high", Numeric, nullable=False),
    Column("low", Numeric, nullable=False),
    Column("close", Numeric, nullable=False),
    Column("volume", Numeric, nullable=False),
    Column("quote_volume", Numeric, nullable=False),
    Column("trades", BigInteger, nullable=False),
    PrimaryKeyConstraint("symbol", "bucket"),
)

engine_claim = Table(
    "engine_claim",
    metadata,
    Column("single", Boolean, primary_key=True, server_default=text("true")),
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
    Column("holder", Text, comment="host and process of the claiming engine"),
    Column("claimed_at", DateTime(timezone=True)),
    Column("committed_at", DateTime(timezone=True)),
    CheckConstraint("single", name="one_row"),
)
"""One row: the fencing epoch of the engine that may commit (`exchange.persistence.claim`)."""
