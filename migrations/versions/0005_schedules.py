"""schedules: periodic jobs managed at runtime; jobs link to the schedule that fired them

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=True),
        sa.Column("cron", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("overlap", sa.String(length=10), nullable=False),
        sa.Column("misfire", sa.String(length=10), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("anchor_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_job_id", sa.String(length=36), nullable=True),
        sa.Column("missed_runs", sa.Integer(), nullable=False),
        sa.Column("skipped_runs", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_schedules_next_run_at", "schedules", ["next_run_at"])
    op.add_column("jobs", sa.Column("schedule_id", sa.String(length=36), nullable=True))
    op.add_column("jobs", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_jobs_schedule_created", "jobs", ["schedule_id", "created_at", "id"])
    op.create_index(
        "uq_jobs_schedule_firing", "jobs", ["schedule_id", "scheduled_for"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_jobs_schedule_firing", table_name="jobs")
    op.drop_index("ix_jobs_schedule_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_column("scheduled_for")
        batch_op.drop_column("schedule_id")
    op.drop_index("ix_schedules_next_run_at", table_name="schedules")
    op.drop_table("schedules")
