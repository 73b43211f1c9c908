"""Transfers get a public number: `id`, an identity column, so they are numbered in commit order.

Backpack numbers deposits and withdrawals; the ledger's own key (`transfer_id`) is a
text the caller chose. Rows that exist already are numbered in their physical order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "transfers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False, comment="the public number, in commit order"),
    )
    op.create_unique_constraint(op.f("uq_transfers_id"), "transfers", ["id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_transfers_id"), "transfers", type_="unique")
    op.drop_column("transfers", "id")
