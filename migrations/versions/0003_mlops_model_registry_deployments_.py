"""mlops: model registry, deployments, evaluations, drift; pipelines

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ml_models",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("task", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "pipelines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "drift_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("drift", sa.Boolean(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("retrain_job_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["ml_models.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
    )
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.create_index("ix_drift_reports_version", ["model_name", "version"], unique=False)

    op.create_table(
        "model_aliases",
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["ml_models.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_name", "alias"),
    )
    op.create_table(
        "model_deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["ml_models.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
    )
    with op.batch_alter_table("model_deployments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_deployments_model_name"), ["model_name"], unique=False
        )

    op.create_table(
        "model_evaluations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("checks", JSON, nullable=False),
        sa.Column("compared_to", sa.String(length=100), nullable=True),
        sa.Column("live_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["ml_models.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
    )
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_evaluations_version", ["model_name", "version"], unique=False
        )

    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("task", sa.String(length=20), nullable=False),
        sa.Column("estimator", sa.String(length=100), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("cv", JSON, nullable=True),
        sa.Column("feature_schema", JSON, nullable=False),
        sa.Column("classes", JSON, nullable=True),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("data_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("train_rows", sa.Integer(), nullable=False),
        sa.Column("test_rows", sa.Integer(), nullable=False),
        sa.Column("library_versions", JSON, nullable=False),
        sa.Column("code_version", sa.String(length=100), nullable=True),
        sa.Column("artifact_url", sa.Text(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact_size", sa.BigInteger(), nullable=False),
        sa.Column("reference_profile", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_name"], ["ml_models.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id"),
        sa.UniqueConstraint("model_name", "version", name="uq_model_versions"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pipeline_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_jobs_pipeline_id"), ["pipeline_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_jobs_pipeline_id", "pipelines", ["pipeline_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_jobs_pipeline_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_jobs_pipeline_id"))
        batch_op.drop_column("step")
        batch_op.drop_column("pipeline_id")

    op.drop_table("model_versions")
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_model_evaluations_version")

    op.drop_table("model_evaluations")
    with op.batch_alter_table("model_deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_deployments_model_name"))

    op.drop_table("model_deployments")
    op.drop_table("model_aliases")
    with op.batch_alter_table("drift_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_reports_version")

    op.drop_table("drift_reports")
    op.drop_table("pipelines")
    op.drop_table("ml_models")
