"""Repository functions for job artifacts (the files a job writes, indexed by name).

Session first, keyword-only arguments; callers own the transaction.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.jobs import get_job
from core.storage import BlobInfo
from core.tables import Artifact, utcnow


def upsert_artifact(
    *, session: Session, job_id: str, name: str, info: BlobInfo, media_type: str
) -> Artifact:
    """One artifact per (job, name): a rerun replaces the row, never duplicates it."""
    artifact = session.scalar(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.name == name)
    )
    if artifact is None:
        artifact = Artifact(job_id=job_id, name=name)
        session.add(artifact)
    artifact.size = info.size
    artifact.sha256 = info.sha256
    artifact.url = info.url
    artifact.media_type = media_type
    artifact.created_at = utcnow()
    session.flush()
    return artifact


def list_artifacts(*, session: Session, job_id: str) -> list[Artifact]:
    get_job(session=session, job_id=job_id)
    return list(
        session.scalars(select(Artifact).where(Artifact.job_id == job_id).order_by(Artifact.name))
    )


def get_artifact(*, session: Session, job_id: str, name: str) -> Artifact:
    artifact = session.scalar(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.name == name)
    )
    if artifact is None:
        raise NotFound(f"artifact {name!r} of job {job_id} not found")
    return artifact


def delete_artifacts(*, session: Session, job_id: str) -> int:
    result = session.execute(delete(Artifact).where(Artifact.job_id == job_id))
    return int(result.rowcount)  # type: ignore[attr-defined]
