"""Repository functions for jobs, artifacts and uploaded files.

Session first, keyword-only arguments; callers own the transaction. Status changes are
conditional updates, so a redelivered or duplicated message never moves a finished job
back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Integer, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.pagination import fetch_page
from core.tables import FINISHED, Job, JobStatus, new_id, utcnow

if TYPE_CHECKING:
    from core.kinds import JobKind


def request_hash(kind: str, params: dict[str, Any]) -> str:
    """A fingerprint of a submission, to tell a retried request from a different one."""
    canonical = json.dumps({"kind": kind, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_job(
    *,
    kind: JobKind[Any],
    params: dict[str, Any],
    digest: str,
    idempotency_key: str | None,
    origin: str,
    parent_id: str | None,
    now: datetime,
) -> Job:
    """A queued job row, not yet added to a session (its id is chosen here)."""
    return Job(
        id=new_id(),
        kind=kind.name,
        queue=kind.queue,
        status=JobStatus.QUEUED,
        params=params,
        idempotency_key=idempotency_key,
        request_hash=digest,
        origin=origin,
        parent_id=parent_id,
        created_at=now,
        updated_at=now,
        enqueued_at=now,
        progress=0.0,
        attempts=0,
        resends=0,
    )


def insert_jobs(*, session: Session, rows: Sequence[Job]) -> None:
    """Insert new job rows in bulk (one statement per thousand rows, no per-row reads)."""
    if rows:
        session.add_all(rows)
        session.flush()


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
    """Insert one queued job; with an idempotency key, return the existing job instead.

    Returns the job and whether it was created. The same key with another body is a
    Conflict. (Submissions go through `core.submission.submit_many`, which does the same
    for a whole batch.)
    """
    digest = request_hash(kind.name, params)
    if idempotency_key is not None:
        existing = by_idempotency_keys(session=session, keys=[idempotency_key])
        if idempotency_key in existing:
            return same_request_or_conflict(existing[idempotency_key], digest), False
    job = new_job(
        kind=kind,
        params=params,
        digest=digest,
        idempotency_key=idempotency_key,
        origin=origin,
        parent_id=parent_id,
        now=utcnow(),
    )
    if job_id is not None:
        job.id = job_id
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        # Another request with the same key won the race.
        if idempotency_key is None:
            raise
        existing = by_idempotency_keys(session=session, keys=[idempotency_key])
        if idempotency_key not in existing:
            raise
        return same_request_or_conflict(existing[idempotency_key], digest), False
    return job, True


def by_idempotency_keys(*, session: Session, keys: Sequence[str]) -> dict[str, Job]:
    """The jobs already submitted under these idempotency keys, by key (one query)."""
    if not keys:
        return {}
    found = session.scalars(select(Job).where(Job.idempotency_key.in_(list(set(keys)))))
    return {job.idempotency_key: job for job in found if job.idempotency_key is not None}


def same_request_or_conflict(job: Job, digest: str) -> Job:
    """The job, when the request repeats the one that made it; else a Conflict."""
    if job.request_hash != digest:
        raise Conflict(
            "idempotency key already used with a different request",
            details={"job_id": job.id},
        )
    return job


def fail_unsent(*, session: Session, job_ids: Sequence[str], now: datetime, message: str) -> None:
    """Jobs whose message the broker did not take: failed, their keys freed for a retry."""
    if job_ids:
        session.execute(
            update(Job)
            .where(Job.id.in_(list(job_ids)))
            .values(
                status=JobStatus.FAILED,
                finished_at=now,
                updated_at=now,
                idempotency_key=None,
                error={"type": "Unavailable", "message": message},
            )
        )


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


@dataclass(frozen=True)
class Attempt:
    """A job a worker has just started: its params (as stored) and its attempt number;
    `taken_over` when an earlier attempt's process died without finishing it."""

    params: dict[str, Any]
    attempt: int
    taken_over: bool = False


# A worker's two writes per job, written once as SQL both SQLite and PostgreSQL run:
# executed on an autocommit connection (`core.db.autocommit`) each is one round trip,
# with no ORM session, no BEGIN/COMMIT and nothing compiled or expanded per job (an ORM
# or `in_()` statement costs as much Python as the round trip itself).
_CLAIM = (
    text(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = :worker, "
        "lease = :lease, started_at = :now, updated_at = :now, error = NULL "
        "WHERE id = :id AND status IN ('queued', 'retrying') RETURNING params, attempts"
    )
    .bindparams(bindparam("now", type_=Job.__table__.c.started_at.type))
    .columns(params=Job.__table__.c.params.type, attempts=Integer)
)
_SUCCEED = text(
    "UPDATE jobs SET status = 'succeeded', finished_at = :now, updated_at = :now, "
    "result = :result, error = NULL, progress = 1.0 "
    "WHERE id = :id AND status NOT IN ('succeeded', 'failed', 'cancelled')"
).bindparams(
    bindparam("now", type_=Job.__table__.c.finished_at.type),
    bindparam("result", type_=Job.__table__.c.result.type),
)
assert {s.value for s in FINISHED} == {"succeeded", "failed", "cancelled"}

Executor = Session | Connection
"""A session or a plain connection: the worker's hot path uses an autocommit connection."""


def start_attempt(
    *,
    session: Executor,
    job_id: str,
    worker: str,
    lease: str | None,
    now: datetime,
    lease_alive: Callable[[str | None], bool],
) -> Attempt | None:
    """Move a job to running, leased to this process, and count the attempt; None when
    it must not run.

    A queued (or retrying) job starts. A finished one never runs again: that is what
    makes a redelivered message harmless. A running one is either still run by its lease
    (`lease_alive` — a duplicate delivery: None) or was abandoned by a process that died
    (taken over). The usual case is one statement, one round trip.
    """
    row = session.execute(
        _CLAIM, {"id": job_id, "worker": worker, "lease": lease, "now": now}
    ).first()
    if row is not None:
        return Attempt(params=dict(row.params), attempt=int(row.attempts))
    current = session.execute(select(Job.status, Job.lease).where(Job.id == job_id)).first()
    if current is None or current.status != JobStatus.RUNNING or lease_alive(current.lease):
        return None
    values = {
        "status": JobStatus.RUNNING,
        "attempts": Job.attempts + 1,
        "worker": worker,
        "lease": lease,
        "started_at": now,
        "updated_at": now,
        "error": None,
    }
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .where(Job.lease.is_(None) if current.lease is None else Job.lease == current.lease)
        .values(**values)
        .returning(Job.params, Job.attempts)
    ).first()
    if row is None:  # another process took it over first
        return None
    return Attempt(params=dict(row.params), attempt=int(row.attempts), taken_over=True)


def finish_job(
    *,
    session: Executor,
    job_id: str,
    status: JobStatus,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> bool:
    """Record the outcome of a running job; False if it was cancelled meanwhile."""
    if status is JobStatus.SUCCEEDED:
        updated = session.execute(_SUCCEED, {"id": job_id, "now": now, "result": result})
        return bool(updated.rowcount)  # type: ignore[attr-defined]
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "updated_at": now,
        "error": error,
    }
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


def cancel_unfinished(*, session: Session, job_id: str, now: datetime, message: str) -> bool:
    """Mark a job cancelled unless it already finished; True when this call changed it.

    Used by the worker when Celery revokes or terminates a task (by the API, by Flower,
    or by `celery control`): running it again changes nothing."""
    updated = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.not_in([s.value for s in FINISHED]))
        .values(
            status=JobStatus.CANCELLED,
            finished_at=now,
            updated_at=now,
            error={"type": "Cancelled", "message": message},
        )
    )
    return bool(updated.rowcount)  # type: ignore[attr-defined]


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


def running(*, session: Session, limit: int = 1000) -> list[Job]:
    """Running jobs, oldest first."""
    return list(
        session.scalars(
            select(Job).where(Job.status == JobStatus.RUNNING).order_by(Job.created_at).limit(limit)
        )
    )


def requeue(*, session: Session, job: Job, now: datetime, note: str) -> None:
    """A running job whose process and message are gone goes back to queued (re-sent)."""
    job.status = JobStatus.QUEUED
    job.resends += 1
    job.lease = None
    job.updated_at = now
    job.note = note


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
