"""jobs.lease: which worker process runs a job (worker instance / pool process), so a
redelivered message can tell a live first run from a dead one

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("lease", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "lease")
