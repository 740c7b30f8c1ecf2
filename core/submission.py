"""Submitting a job: validate against the catalog, write the row, then send the message.

The row is committed before the message is sent, so a worker never sees a message
without its job, and a message lost between the two is found by housekeeping.
"""

from __future__ import annotations

from typing import Any, Protocol

from kombu.exceptions import KombuError, OperationalError
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from core import jobs
from core.config import Settings
from core.errors import InvalidInput, Unavailable
from core.kinds import JobKind, get_kind
from core.kinds.common import check_files
from core.tables import Job, JobStatus, Pipeline, utcnow


class Producer(Protocol):
    """What we need of a Celery app to send a message by task name."""

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


SEND_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def prepare(
    *, session: Session, kind_name: str, params: dict[str, Any]
) -> tuple[JobKind[Any], BaseModel]:
    """The kind and its params, validated; every file the params name must exist."""
    kind = get_kind(kind_name)
    model = kind.validate(params)
    check_files(session, model)
    return kind, model


def prepare_all(*, session: Session, items: list[tuple[str, dict[str, Any]]], noun: str) -> None:
    """Validate many submissions at once; InvalidInput lists every bad one by index."""
    problems = []
    for index, (kind_name, params) in enumerate(items):
        try:
            prepare(session=session, kind_name=kind_name, params=params)
        except InvalidInput as exc:
            problems.append({"index": index, **exc.to_dict()})
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{len(problems)} of {len(items)} {noun} are invalid; the first, at index "
            f"{first['index']}: {first['message']}",
            details=problems,
        )


def send(*, producer: Producer, job: Job) -> None:
    """Put the job's message on its queue; the task id is the job id."""
    try:
        producer.send_task(
            job.kind,
            task_id=job.id,
            queue=job.queue,
            kwargs={},
            ignore_result=True,  # results are the jobs table's; no backend round trip
            retry=True,
            retry_policy=SEND_RETRY_POLICY,
        )
    except (OperationalError, KombuError, RedisError, OSError) as exc:
        raise Unavailable("the broker (Redis) is unavailable; try again shortly") from exc


def submit(
    *,
    session: Session,
    producer: Producer,
    kind_name: str,
    params: dict[str, Any],
    idempotency_key: str | None = None,
    origin: str = "api",
    parent_id: str | None = None,
    settings: Settings | None = None,
) -> tuple[Job, bool]:
    """Create and enqueue one job. Returns the job and whether it is new.

    If the broker cannot take the message, the job is marked failed (so nothing is left
    queued with no message) and Unavailable is raised.
    """
    kind, model = prepare(session=session, kind_name=kind_name, params=params)
    kind.check(session, model, settings)
    job, created = jobs.create_job(
        session=session,
        kind=kind,
        params=model.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        origin=origin,
        parent_id=parent_id,
    )
    if not created:
        return job, False
    session.commit()
    try:
        send(producer=producer, job=job)
    except Unavailable as exc:
        jobs.finish_job(
            session=session,
            job_id=job.id,
            status=JobStatus.FAILED,
            now=utcnow(),
            error={"type": "Unavailable", "message": exc.message},
        )
        # Free the key so the client can retry the same request once the broker is back.
        job.idempotency_key = None
        session.commit()
        raise
    jobs.mark_enqueued(session=session, job=job, now=utcnow())
    session.commit()
    return job, True


def submit_pipeline(
    *,
    session: Session,
    producer: Any,
    steps: list[tuple[str, dict[str, Any]]],
    name: str | None = None,
    origin: str = "api",
) -> Pipeline:
    """Create a pipeline and its step jobs, then send them as one Celery chain.

    Every step's params are validated first; only the first step is checked against the
    current state (later steps depend on what earlier ones produce). A step that fails
    stops the chain, and the steps after it are marked skipped.
    """
    prepared = [prepare(session=session, kind_name=k, params=p) for k, p in steps]
    if prepared:
        first_kind, first_params = prepared[0]
        first_kind.check(session, first_params, None)
    pipeline = Pipeline(name=name, steps=len(prepared), origin=origin)
    session.add(pipeline)
    session.flush()
    rows = []
    for index, (kind, model) in enumerate(prepared):
        job, _ = jobs.create_job(
            session=session,
            kind=kind,
            params=model.model_dump(mode="json"),
            origin=f"pipeline:{pipeline.id}",
        )
        job.pipeline_id = pipeline.id
        job.step = index
        rows.append(job)
    session.commit()
    try:
        from celery import chain

        chain(
            *(producer.signature(j.kind, task_id=j.id, queue=j.queue, immutable=True) for j in rows)
        ).apply_async(retry=True, retry_policy=SEND_RETRY_POLICY, ignore_result=True)
    except (OperationalError, KombuError, RedisError, OSError) as exc:
        now = utcnow()
        for job in rows:
            jobs.finish_job(
                session=session,
                job_id=job.id,
                status=JobStatus.FAILED,
                now=now,
                error={"type": "Unavailable", "message": "the broker (Redis) is unavailable"},
            )
        session.commit()
        raise Unavailable("the broker (Redis) is unavailable; try again shortly") from exc
    now = utcnow()
    for job in rows:
        jobs.mark_enqueued(session=session, job=job, now=now)
    session.commit()
    return pipeline
