"""A backend's own state per task (backend_state_json), saved under the worker's lease and kept across re-claims.

A backend that hands the work to an upstream service must record the upstream's task id before anything else,
and after its worker died, the next claimer must resume polling that task rather than submit it again. Existing
rows start with an empty state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("backend_state_json", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.drop_column("tasks", "backend_state_json")  # SQLite has ALTER TABLE … DROP COLUMN since 3.35
