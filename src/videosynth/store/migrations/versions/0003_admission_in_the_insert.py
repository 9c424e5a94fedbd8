"""Admission checks move into the create transaction: a (key_id, status) index; rate_windows goes.

The per-key rate limit now counts the key's tasks created in the last 60 s (a sliding window over the
existing (key_id, submit_ms) index) inside the insert's own transaction, so no counter row is written, and
no row lock serialises one key's creates, on every request.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # The queue quota counts a key's PENDING + RUNNING tasks; this index reaches them without its finished ones.
    op.create_index("ix_tasks_key_status", "tasks", ["key_id", "status"])
    op.drop_table("rate_windows")


def downgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("window_start_s", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "window_start_s", name="pk_rate_windows"),
    )
    op.drop_index("ix_tasks_key_status", table_name="tasks")
