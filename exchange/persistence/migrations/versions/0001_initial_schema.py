"""Initial schema: every table of `exchange.persistence.tables`, and TimescaleDB when the server has it.

TimescaleDB is used only when the extension is both available and preloaded (CREATE
EXTENSION fails otherwise); then `candles_1m` becomes a hypertable on `bucket`. Trades
stay a plain table: a hypertable needs the time column in every unique index, and the
trade id alone is the natural key every fill refers to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "assets",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_assets")),
    )
    op.create_table(
        "candles_1m",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Numeric(), nullable=False),
        sa.Column("high", sa.Numeric(), nullable=False),
        sa.Column("low", sa.Numeric(), nullable=False),
        sa.Column("close", sa.Numeric(), nullable=False),
        sa.Column("volume", sa.Numeric(), nullable=False),
        sa.Column("quote_volume", sa.Numeric(), nullable=False),
        sa.Column("trades", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "bucket", name=op.f("pk_candles_1m")),
    )
    op.create_table(
        "api_keys",
        sa.Column("public_key", sa.Text(), nullable=False, comment="ED25519 public key, base64"),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_api_keys_account_id_accounts")),
        sa.PrimaryKeyConstraint("public_key", name=op.f("pk_api_keys")),
    )
    op.create_index(op.f("ix_api_keys_account_id"), "api_keys", ["account_id"], unique=False)
    op.create_table(
        "balances",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.Text(), nullable=False),
        sa.Column("available", sa.Numeric(), nullable=False),
        sa.Column("locked", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "asset", name=op.f("pk_balances")),
        postgresql_with={"fillfactor": 70},
    )
    op.create_table(
        "markets",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("base", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("tick_size", sa.Numeric(), nullable=False),
        sa.Column("step_size", sa.Numeric(), nullable=False),
        sa.Column("min_quantity", sa.Numeric(), nullable=False),
        sa.Column("maker_fee_bps", sa.Integer(), nullable=False),
        sa.Column("taker_fee_bps", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("halted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["base"], ["assets.symbol"], name=op.f("fk_markets_base_assets")),
        sa.ForeignKeyConstraint(["quote"], ["assets.symbol"], name=op.f("fk_markets_quote_assets")),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_markets")),
    )
    op.create_table(
        "transfers",
        sa.Column("transfer_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False, comment="deposit or withdrawal"),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["asset"], ["assets.symbol"], name=op.f("fk_transfers_asset_assets")),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_transfers")),
    )
    op.create_index(op.f("ix_transfers_account_id"), "transfers", ["account_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("order_type", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=True),
        sa.Column("quantity", sa.Numeric(), nullable=True),
        sa.Column("quote_quantity", sa.Numeric(), nullable=True),
        sa.Column("time_in_force", sa.Text(), nullable=False),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("self_trade_prevention", sa.Text(), nullable=False),
        sa.Column("client_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("executed_quantity", sa.Numeric(), nullable=False),
        sa.Column("executed_quote_quantity", sa.Numeric(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        postgresql_with={"fillfactor": 80},
    )
    op.create_index("ix_orders_account_id_id", "orders", ["account_id", "id"], unique=False)
    op.create_table(
        "trades",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("quantity", sa.Numeric(), nullable=False),
        sa.Column("quote_quantity", sa.Numeric(), nullable=False),
        sa.Column("taker_side", sa.Text(), nullable=False),
        sa.Column("is_buyer_maker", sa.Boolean(), nullable=False),
        sa.Column("maker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("taker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("maker_account_id", sa.BigInteger(), nullable=False),
        sa.Column("taker_account_id", sa.BigInteger(), nullable=False),
        sa.Column("maker_fee", sa.Numeric(), nullable=False),
        sa.Column("taker_fee", sa.Numeric(), nullable=False),
        sa.Column("maker_fee_asset", sa.Text(), nullable=False),
        sa.Column("taker_fee_asset", sa.Text(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trades")),
    )
    op.create_index("ix_trades_maker_account_id_id", "trades", ["maker_account_id", "id"], unique=False)
    op.create_index("ix_trades_symbol_id", "trades", ["symbol", "id"], unique=False)
    op.create_index("ix_trades_taker_account_id_id", "trades", ["taker_account_id", "id"], unique=False)
    if _timescale_usable():
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        op.execute("SELECT create_hypertable('candles_1m', 'bucket', chunk_time_interval => INTERVAL '30 days')")


def _timescale_usable() -> bool:
    """Whether `CREATE EXTENSION timescaledb` can succeed on this server."""
    return bool(
        op.get_bind().scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') "
                "AND current_setting('shared_preload_libraries') LIKE '%timescaledb%'"
            )
        )
    )


def downgrade() -> None:
    op.drop_index("ix_trades_taker_account_id_id", table_name="trades")
    op.drop_index("ix_trades_symbol_id", table_name="trades")
    op.drop_index("ix_trades_maker_account_id_id", table_name="trades")
    op.drop_table("trades")
    op.drop_index("ix_orders_account_id_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_transfers_account_id"), table_name="transfers")
    op.drop_table("transfers")
    op.drop_table("markets")
    op.drop_table("balances")
    op.drop_index(op.f("ix_api_keys_account_id"), table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("candles_1m")
    op.drop_table("assets")
    op.drop_table("accounts")
