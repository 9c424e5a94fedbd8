"""Each task's reproducibility record (record_json): what it takes to make the same video again.

Written with the task's success (model entry, checkpoint hash, seed, parameters after defaults, prompts,
generation size and sampler, versions, device) and shown in the task's detail. Existing rows start empty.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("record_json", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.drop_column("tasks", "record_json")
