"""The engine claim: which engine may commit to this database, and its fencing epoch.

One row. An engine claims the database by taking the session advisory lock
`CLAIM_LOCK` on its writer's connection and then raising `epoch` by one; every commit
it makes calls `engine_fence(epoch, claimed)` inside its own transaction, which takes
the row's lock and raises (SQLSTATE `EXF01`) unless the row still holds the epoch the
engine claimed. See `exchange.persistence.claim`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"

FENCE = """
CREATE FUNCTION engine_fence(current bigint, claimed bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF current IS DISTINCT FROM claimed THEN
        RAISE EXCEPTION 'engine epoch % was superseded by epoch %', claimed, current USING ERRCODE = 'EXF01';
    END IF;
    RETURN true;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "engine_claim",
        sa.Column("single", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("epoch", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("holder", sa.Text(), nullable=True, comment="host and process of the claiming engine"),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("single", name=op.f("ck_engine_claim_one_row")),
        sa.PrimaryKeyConstraint("single", name=op.f("pk_engine_claim")),
    )
    op.execute("INSERT INTO engine_claim (single, epoch) VALUES (true, 0)")
    op.execute(FENCE)


def downgrade() -> None:
    op.execute("DROP FUNCTION engine_fence(bigint, bigint)")
    op.drop_table("engine_claim")
