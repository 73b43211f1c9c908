"""Transfers on chains: withdrawals with a status the operator settles, deposit references, asset networks.

A transfer gains its `status` (existing rows were settled when committed: confirmed),
its `blockchain`, `address` and `transaction_hash`; each account gets a stable deposit
reference per blockchain (`deposit_addresses`); each asset lists its networks
(`blockchains`; existing assets keep the one they were published with, Solana).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"


def upgrade() -> None:
    op.add_column(
        "assets",
        sa.Column("blockchains", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{Solana}'"), nullable=False),
    )
    op.add_column(
        "transfers",
        sa.Column(
            "status",
            sa.Text(),
            server_default=sa.text("'confirmed'"),
            nullable=False,
            comment="pending, confirmed or failed",
        ),
    )
    op.add_column("transfers", sa.Column("blockchain", sa.Text(), nullable=True))
    op.add_column(
        "transfers",
        sa.Column("address", sa.Text(), nullable=True, comment="a deposit's reference, a withdrawal's destination"),
    )
    op.add_column("transfers", sa.Column("transaction_hash", sa.Text(), nullable=True))
    op.create_table(
        "deposit_addresses",
        sa.Column("address", sa.Text(), nullable=False, comment="the reference the on-ramp credits by"),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("blockchain", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_deposit_addresses_account_id_accounts")),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_deposit_addresses")),
        sa.UniqueConstraint("account_id", "blockchain", name=op.f("uq_deposit_addresses_account_id")),
    )


def downgrade() -> None:
    op.drop_table("deposit_addresses")
    for column in ("transaction_hash", "address", "blockchain", "status"):
        op.drop_column("transfers", column)
    op.drop_column("assets", "blockchains")
