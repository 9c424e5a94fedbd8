"""An upstream's limits shared by every relay worker: its poll budget (a GCRA bucket) and its in-flight slots.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "upstream_budget",
        sa.Column("upstream", sa.String(512), nullable=False),
        sa.Column("tat_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("upstream", name="pk_upstream_budget"),
    )
    op.create_table(
        "upstream_slots",
        sa.Column("upstream", sa.String(512), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("upstream", "slot", name="pk_upstream_slots"),
    )


def downgrade() -> None:
    op.drop_table("upstream_slots")
    op.drop_table("upstream_budget")
