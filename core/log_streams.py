"""Repository functions for log streams: a miner's persisted state and its templates.

Session first, keyword-only arguments; callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.tables import LogStream, LogStreamJob, LogTemplate


def get_stream(*, session: Session, name: str) -> LogStream:
    found = session.get(LogStream, name)
    if found is None:
        raise NotFound(f"log stream {name!r} not found")
    return found


def list_streams(*, session: Session) -> list[LogStream]:
    """Every log stream, by name."""
    return list(session.scalars(select(LogStream).order_by(LogStream.name)))


def stream_jobs(*, session: Session, name: str, limit: int = 50) -> list[LogStreamJob]:
    """The jobs that extended a stream, newest first."""
    return list(
        session.scalars(
            select(LogStreamJob)
            .where(LogStreamJob.stream == name)
            .order_by(LogStreamJob.created_at.desc())
            .limit(limit)
        )
    )


def find_stream(*, session: Session, name: str, lock: bool = False) -> LogStream | None:
    """The stream, or None; `lock` holds its row until the transaction ends."""
    query = select(LogStream).where(LogStream.name == name)
    return session.scalar(query.with_for_update() if lock else query)


def job_result(*, session: Session, name: str, job_id: str) -> dict[str, Any] | None:
    """What a job that already extended the stream answered (a rerun answers the same)."""
    done = session.get(LogStreamJob, (name, job_id))
    return dict(done.result) if done is not None else None


def save_stream(
    *,
    session: Session,
    name: str,
    state: dict[str, Any],
    template_count: int,
    line_count: int,
    templates: Iterable[tuple[int, str, int]],
    job_id: str,
    result: dict[str, Any],
    now: datetime,
) -> None:
    """Store the stream's new state and its template list, and the job that made them.

    `templates` are (template id, text, count) of every template the miner holds.
    """
    stream = find_stream(session=session, name=name, lock=True)
    if stream is None:
        stream = LogStream(name=name, state={}, created_at=now)
        session.add(stream)
    stream.state = state
    stream.template_count = template_count
    stream.line_count = line_count
    stream.updated_at = now
    session.flush()
    session.execute(delete(LogTemplate).where(LogTemplate.stream == name))
    rows = [
        {"stream": name, "template_id": i, "template": text, "count": count, "updated_at": now}
        for i, text, count in templates
    ]
    if rows:
        session.execute(insert(LogTemplate), rows)
    session.add(LogStreamJob(stream=name, job_id=job_id, result=result))


def list_templates(*, session: Session, name: str, limit: int) -> list[LogTemplate]:
    """A stream's templates, most frequent first."""
    return list(
        session.scalars(
            select(LogTemplate)
            .where(LogTemplate.stream == name)
            .order_by(LogTemplate.count.desc(), LogTemplate.template_id)
            .limit(limit)
        )
    )
