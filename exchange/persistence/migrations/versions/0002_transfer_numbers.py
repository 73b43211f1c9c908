"""Transfers get a public number: `id`, an identity column, so they are numbered in commit order.

Backpack numbers deposits and withdrawals; the ledger's own key (`transfer_id`) is a
text the caller chose. Rows that exist already are numbered in their physical order.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"


def upgrade() -> None:
    op.add_column(
        "transfers",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False, comment="the public number, in commit order"),
    )
    op.create_unique_constraint(op.f("uq_transfers_id"), "transfers", ["id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_transfers_id"), "transfers", type_="unique")
    op.drop_column("transfers", "id")
