"""The worker's published progress per task: its phase, the denoising step of steps and an ETA.

Plain nullable columns (not JSON) so the status poll's raw read decodes nothing more; existing rows read as
"nothing published" (NULL), which the events stream shows as the task's status implies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_COLUMNS = (("phase", sa.String(24)), ("step", sa.Integer()), ("steps", sa.Integer()), ("eta_ms", sa.BigInteger()))


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("tasks", sa.Column(name, type_))


def downgrade() -> None:
    for name, _type in reversed(_COLUMNS):
        op.drop_column("tasks", name)
