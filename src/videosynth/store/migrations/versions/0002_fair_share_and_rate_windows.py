"""Fair-share claim index and per-key rate-limit windows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # The claim orders keys by when they were last served; this index answers that per key.
    op.create_index("ix_tasks_key_schedule", "tasks", ["key_id", "scheduled_ms"])
    op.create_table(
        "rate_windows",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("window_start_s", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "window_start_s", name="pk_rate_windows"),
    )


def downgrade() -> None:
    op.drop_table("rate_windows")
    op.drop_index("ix_tasks_key_schedule", table_name="tasks")
