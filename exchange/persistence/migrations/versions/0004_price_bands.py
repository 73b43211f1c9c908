"""Markets get a price band: `band_min` and `band_max`, multipliers of the last trade price.

Both NULL (the default, and every market listed before) means no band. The band's
reference, the last trade price, is not stored here: it is the newest trade's price.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"


def upgrade() -> None:
    op.add_column(
        "markets",
        sa.Column(
            "band_min",
            sa.Numeric(),
            nullable=True,
            comment="the price band's lowest multiple of the last trade price (NULL: no band)",
        ),
    )
    op.add_column(
        "markets",
        sa.Column(
            "band_max", sa.Numeric(), nullable=True, comment="the price band's highest multiple of the last trade price"
        ),
    )


def downgrade() -> None:
    op.drop_column("markets", "band_max")
    op.drop_column("markets", "band_min")
