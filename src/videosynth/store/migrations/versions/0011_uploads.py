"""Client uploads' blob keys and expiry (uploads), so expired files are swept like expired tasks.

Files uploaded before this revision have no row and are not swept (an S3 lifecycle rule on ``upload-`` covers
them); every later upload is recorded before it is stored.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("blob_key", sa.String(64), primary_key=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_uploads_expires", "uploads", ["expires_ms"])


def downgrade() -> None:
    op.drop_index("ix_uploads_expires", table_name="uploads")
    op.drop_table("uploads")
