"""indexes for the Alerts and colorway pages: deliveries newest first, a colorway's events newest first

Revision ID: e7b3c2d4f501
Revises: a0afc63055de
Create Date: 2026-12-01 17:05:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "e7b3c2d4f501"
down_revision: str | None = "a0afc63055de"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_created", ["created_at", "id"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_colorway_created", ["colorway_id", "created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_colorway_created")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_created")
