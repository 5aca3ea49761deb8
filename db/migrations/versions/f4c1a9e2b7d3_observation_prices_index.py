"""observations: a covering index for price reads, and the few suspect observations

Revision ID: f4c1a9e2b7d3
Revises: e7b3c2d4f501
Create Date: 2026-12-01 20:10:00.000000

A chart's range of prices is read from the (listing, time, id, price, currency, availability,
suspect) index alone, never touching the rows with their sizes; it replaces the (listing, time)
index it starts with. The partial index on suspect observations lets a reader count them cheaply:
a suspect price confirmed later changes no other column a reader could notice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4c1a9e2b7d3"
down_revision: str | None = "e7b3c2d4f501"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRICE_COLUMNS = ["listing_id", "observed_at", "id", "price", "currency", "availability", "suspect"]


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index("ix_observations_prices", PRICE_COLUMNS, unique=False)
        batch_op.create_index(
            "ix_observations_suspect",
            ["id", "listing_id", "suspect"],
            unique=False,
            sqlite_where=sa.text("suspect = 1"),
            postgresql_where=sa.text("suspect"),
        )
        batch_op.drop_index("ix_observations_listing_observed")


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index("ix_observations_listing_observed", ["listing_id", "observed_at"], unique=False)
        batch_op.drop_index("ix_observations_suspect")
        batch_op.drop_index("ix_observations_prices")
