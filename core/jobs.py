"""Repository functions for jobs, artifacts and uploaded files.

Session first, keyword-only arguments; callers own the transaction. Status changes are
conditional updates, so a redelivered or duplicated message never moves a finished job
back.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.pagination import fetch_page
from core.tables import FINISHED, Job, JobStatus, utcnow

if TYPE_CHECKING:
    from core.kinds import JobKind


def request_hash(kind: str, params: dict[str, Any]) -> str:
    """A fingerprint of a submission, to tell a retried request from a different one."""
    canonical = json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_job(
    *,
    session: Session,
    kind: JobKind[Any],
    params: dict[str, Any],
    idempotency_key: str | None = None,
    origin: str = "api",
    parent_id: str | None = None,
    job_id: str | None = None,
) -> tuple[Job, bool]:
    """Insert a queued job; with an idempotency key, return the existing job instead.

    Returns the job and whether it was created. The same key with another body is a
    Conflict.
    """
    digest = request_hash(kind.name, params)
    if idempotency_key is not None:
        existing = _by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return _same_request_or_conflict(existing, digest), False
    job = Job(
        kind=kind.name,
        queue=kind.queue,
        status=JobStatus.QUEUED,
        params=params,
        idempotency_key=idempotency_key,
        request_hash=digest,
        origin=origin,
        parent_id=parent_id,
    )
    if job_id is not None:
        job.id = job_id
    session.add(job)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request with the same key won the race.
        if idempotency_key is None:
            raise
        existing = _by_idempotency_key(session, idempotency_key)
        if existing is None:
            raise
        return _same_request_or_conflict(existing, digest), False
    return job, True


def _by_idempotency_key(session: Session, key: str) -> Job | None:
    return session.scalar(select(Job).where(Job.idempotency_key == key))


def _same_request_or_conflict(job: Job, digest: str) -> Job:
    if job.request_hash != digest:
        raise Conflict(
            "idempotency key already used with a different request",
            details={"job_id": job.id},
        )
    return job


def find_job(*, session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_job(*, session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} not found")
    return job


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    next_cursor: str | None


def list_jobs(
    *,
    session: Session,
    kind: str | None = None,
    status: str | None = None,
    parent_id: str | None = None,
    schedule_id: str | None = None,
    queue: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page:
    """Newest first, `limit` at a time; pass the returned cursor for the next page.
    `queue` keeps one family's jobs, `since` those created at or after that time."""
    query = select(Job)
    if kind:
        query = query.where(Job.kind == kind)
    if status:
        if status not in {s.value for s in JobStatus}:
            raise InvalidInput(
                f"unknown status {status!r}", details={"known": [s.value for s in JobStatus]}
            )
        query = query.where(Job.status == status)
    if parent_id:
        query = query.where(Job.parent_id == parent_id)
    if schedule_id:
        query = query.where(Job.schedule_id == schedule_id)
    if queue:
        query = query.where(Job.queue == queue)
    if since is not None:
        query = query.where(Job.created_at >= since)
    jobs, next_cursor = fetch_page(session, query, cursor, Job.created_at, Job.id, limit)
    return Page(jobs=jobs, next_cursor=next_cursor)


def counts_since(*, session: Session, since: datetime) -> list[tuple[str, str, int]]:
    """(queue, status, count) of the jobs created at or after `since`."""
    rows = session.execute(
        select(Job.queue, Job.status, func.count())
        .where(Job.created_at >= since)
        .group_by(Job.queue, Job.status)
    )
    return [(queue, status, int(count)) for queue, status, count in rows]


def queued_job_of_kind(*, session: Session, kind: str) -> str | None:
    """The id of a job of `kind` still waiting in its queue, if there is one."""
    return session.scalar(
        select(Job.id).where(Job.kind == kind, Job.status == JobStatus.QUEUED).limit(1)
    )


def mark_enqueued(*, session: Session, job: Job, now: datetime) -> None:
    job.enqueued_at = now


def start_attempt(*, session: Session, job_id: str, worker: str, now: datetime) -> Job | None:
    """Move a job to running and count the attempt; None when it must not run.

    A job that is already finished (succeeded, failed or cancelled) is not run again:
    that is what makes a redelivered message harmless.
    """
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.not_in([s.value for s in FINISHED]))
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            worker=worker,
            started_at=now,
            updated_at=now,
            error=None,
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return None
    session.expire_all()
    return session.get(Job, job_id)


def finish_job(
    *,
    session: Session,
    job_id: str,
    status: JobStatus,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome of a running job; False if it was cancelled meanwhile."""
    values: dict[str, Any] = {"status": status, "finished_at": now, "updated_at": now}
    if status is JobStatus.SUCCEEDED:
        values.update(result=result, error=None, progress=1.0)
    else:
        values.update(error=error)
    updated = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.not_in([s.value for s in FINISHED]))
        .values(**values)
    )
    return bool(updated.rowcount)  # type: ignore[attr-defined]


def mark_retrying(
    *, session: Session, job_id: str, error: dict[str, Any], now: datetime, note: str
) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.not_in([s.value for s in FINISHED]))
        .values(status=JobStatus.RETRYING, error=error, note=note, updated_at=now)
    )


def set_progress(*, session: Session, job_id: str, fraction: float, message: str | None) -> None:
    fraction = min(1.0, max(0.0, fraction))
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(progress=fraction, progress_message=message, updated_at=utcnow())
    )


def cancel_job(*, session: Session, job_id: str, now: datetime) -> Job:
    """Mark a job cancelled; cancelling a cancelled job is a no-op, a finished one a Conflict."""
    job = get_job(session=session, job_id=job_id)
    if job.status == JobStatus.CANCELLED:
        return job
    if job.status in FINISHED:
        raise Conflict(f"job {job_id} already {job.status}", details={"status": job.status})
    job.status = JobStatus.CANCELLED
    job.finished_at = now
    job.updated_at = now
    job.error = {"type": "Cancelled", "message": "cancelled by request"}
    return job


def adopt_job(*, session: Session, kind: JobKind[Any], job_id: str, params: dict[str, Any]) -> None:
    """Create the row of a message that reached a worker without one (sent by hand)."""
    if session.get(Job, job_id) is None:
        create_job(session=session, kind=kind, params=params, origin="celery", job_id=job_id)


# --- housekeeping -------------------------------------------------------------------


def queued_before(*, session: Session, before: datetime) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]))
            .where(Job.updated_at < before)
            .order_by(Job.created_at)
            .limit(1000)
        )
    )


def running_since(*, session: Session, before: datetime) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.status == JobStatus.RUNNING)
            .where(Job.updated_at < before)
            .limit(1000)
        )
    )


def finished_before(*, session: Session, before: datetime, limit: int = 1000) -> list[Job]:
    return list(
        session.scalars(
            select(Job)
            .where(Job.status.in_([s.value for s in FINISHED]))
            .where(Job.finished_at < before)
            .where(Job.artifacts.any())
            .limit(limit)
        )
    )


def age_cutoff(now: datetime, seconds: float) -> datetime:
    return now - timedelta(seconds=seconds)
