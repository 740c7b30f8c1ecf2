"""Submitting a job: validate against the catalog, write the row, then send the message.

The row is committed before the message is sent, so a worker never sees a message
without its job, and a message lost between the two is found by housekeeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kombu.exceptions import KombuError, OperationalError
from pydantic import BaseModel
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import bundles, jobs
from core.config import Settings, get_settings
from core.errors import InvalidInput, PayloadTooLarge, TriopsError, Unavailable
from core.kinds import JobKind, get_kind
from core.kinds.common import check_files
from core.metrics import JOBS_SUBMITTED
from core.tables import Job, JobStatus, Pipeline, utcnow


class Producer(Protocol):
    """What we need of a Celery app to send a message by task name."""

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


class Sendable(Protocol):
    """What `send` needs of a job: its id, kind and queue (a row, or just those)."""

    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def queue(self) -> str: ...


SEND_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def prepare(
    *, session: Session, kind_name: str, params: dict[str, Any]
) -> tuple[JobKind[Any], BaseModel]:
    """The kind and its params, validated; every file the params name must exist."""
    kind = get_kind(kind_name)
    model = kind.validate(params)
    check_files(session, model)
    return kind, model


@dataclass(frozen=True)
class Request:
    """One job asked for: its kind, params and optional idempotency key."""

    kind: str
    params: dict[str, Any]
    idempotency_key: str | None = None


def send(*, producer: Producer, job: Sendable, publisher: Any = None) -> None:
    """Put the job's message on its queue; the task id is the job id.

    `publisher` is a kombu producer to reuse (a batch publishes over one connection).
    The message goes to the queue's default-exchange route, so Redis takes one LPUSH.
    """
    try:
        producer.send_task(
            job.kind,
            task_id=job.id,
            queue=job.queue,
            kwargs={},
            ignore_result=True,  # results are the jobs table's; no backend round trip
            retry=True,
            retry_policy=SEND_RETRY_POLICY,
            producer=publisher,
        )
    except (OperationalError, KombuError, RedisError, OSError) as exc:
        raise Unavailable("the broker (Redis) is unavailable; try again shortly") from exc


def send_bundle(
    *, producer: Producer, kind: JobKind[Any], job_ids: Sequence[str], publisher: Any = None
) -> None:
    """Put several jobs of one kind on its queue as one message (`core/bundles.py`), with
    the kind's time limits."""
    try:
        producer.send_task(
            bundles.BUNDLE_TASK,
            queue=kind.queue,
            kwargs={"kind": kind.name, "jobs": list(job_ids)},
            ignore_result=True,
            retry=True,
            retry_policy=SEND_RETRY_POLICY,
            producer=publisher,
            time_limit=kind.time_limit_s,
            soft_time_limit=kind.soft_time_limit_s,
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
    [(job, created)] = submit_many(
        session=session,
        producer=producer,
        requests=[Request(kind_name, params, idempotency_key)],
        origin=origin,
        parent_id=parent_id,
        settings=settings,
    )
    return job, created


def submit_many(
    *,
    session: Session,
    producer: Producer,
    requests: Sequence[Request],
    origin: str = "api",
    parent_id: str | None = None,
    settings: Settings | None = None,
) -> list[tuple[Job, bool]]:
    """Create and enqueue many jobs: validated whole, written in one transaction, then
    published together over one connection. Returns each job and whether it is new.

    Every request is validated and prechecked first; one bad request refuses them all
    (InvalidInput listing each by index) and writes nothing. A repeated idempotency key
    answers the existing job (the same body) or a Conflict (another body), in the batch
    as across batches, and two requests racing on one key both get the same job. The rows
    are committed before the messages are sent, as for one job; if the broker refuses,
    the jobs not sent are marked failed and their keys freed, and Unavailable is raised.
    """
    prepared = prepare_many(session=session, requests=requests, settings=settings)
    for _ in range(3):
        try:
            planned = _plan(session, requests, prepared, origin, parent_id)
            session.commit()
            break
        except IntegrityError:
            # Another request took one of the keys between our read and our insert:
            # read them again (their jobs are committed now) and answer those.
            session.rollback()
    else:  # pragma: no cover - three lost races in a row
        raise Unavailable("submissions are racing on the same idempotency keys; try again")
    new_jobs = [job for job, created in planned if created]
    _publish(session, producer, new_jobs, bundle_jobs=(settings or get_settings()).bundle_jobs)
    for job in new_jobs:
        JOBS_SUBMITTED.labels(job.kind).inc()
    return planned


def prepare_many(
    *,
    session: Session,
    requests: Sequence[Request],
    settings: Settings | None = None,
    check: Literal["all", "first"] = "all",
) -> list[tuple[JobKind[Any], BaseModel]]:
    """Each request's kind and validated params, prechecked against the current state
    (all of them, or only the first: a pipeline's later steps depend on earlier ones);
    one InvalidInput lists every bad request by index."""
    prepared: list[tuple[JobKind[Any], BaseModel]] = []
    problems: list[dict[str, Any]] = []
    for index, request in enumerate(requests):
        try:
            if settings is not None:
                check_params_size(request.params, settings.max_params_bytes)
            kind, model = prepare(session=session, kind_name=request.kind, params=request.params)
            if check == "all" or index == 0:
                kind.check(session, model, settings)
            prepared.append((kind, model))
        except TriopsError as exc:
            if len(requests) == 1:
                raise
            problems.append({"index": index, **exc.to_dict()})
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{len(problems)} of {len(requests)} jobs are invalid; the first, at index "
            f"{first['index']}: {first['message']}",
            details=problems,
        )
    return prepared


def check_params_size(params: dict[str, Any], limit: int) -> None:
    """PayloadTooLarge when `params`, as JSON, are over `limit` bytes."""
    size = len(
        json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    )
    if size > limit:
        raise PayloadTooLarge(
            f"params are {size} bytes as JSON, over the limit of {limit} "
            "(TRIOPS_MAX_PARAMS_BYTES); upload large inputs as a file and pass its file_id"
        )


def _plan(
    session: Session,
    requests: Sequence[Request],
    prepared: Sequence[tuple[JobKind[Any], BaseModel]],
    origin: str,
    parent_id: str | None,
) -> list[tuple[Job, bool]]:
    """The job of each request: an existing one for a known idempotency key, else a new
    row (inserted in bulk, not yet committed)."""
    now = utcnow()
    keys = [r.idempotency_key for r in requests if r.idempotency_key is not None]
    known = jobs.by_idempotency_keys(session=session, keys=keys) if keys else {}
    planned: list[tuple[Job, bool]] = []
    new_rows: list[Job] = []
    for request, (kind, model) in zip(requests, prepared, strict=True):
        params = model.model_dump(mode="json")
        digest = jobs.request_hash(kind.name, params)
        key = request.idempotency_key
        if key is not None and key in known:
            planned.append((jobs.same_request_or_conflict(known[key], digest), False))
            continue
        job = jobs.new_job(
            kind=kind,
            params=params,
            digest=digest,
            idempotency_key=key,
            origin=origin,
            parent_id=parent_id,
            now=now,
        )
        if key is not None:
            known[key] = job
        planned.append((job, True))
        new_rows.append(job)
    jobs.insert_jobs(session=session, rows=new_rows)
    return planned


def _publish(
    session: Session, producer: Producer, new_jobs: Sequence[Job], *, bundle_jobs: int = 1
) -> None:
    """Send the new jobs' messages over one connection, several jobs of a kind to a
    message up to `bundle_jobs` (`core/bundles.py`); on a broker failure, the jobs not
    sent are failed (their keys freed, so the client can retry) and Unavailable is
    raised."""
    if not new_jobs:
        return
    sent: set[str] = set()
    try:
        with _publisher(producer) as publisher:
            for message in bundles.group(new_jobs, bundle_jobs):
                if len(message) == 1:
                    send(producer=producer, job=message[0], publisher=publisher)
                else:
                    send_bundle(
                        producer=producer,
                        kind=get_kind(message[0].kind),
                        job_ids=[job.id for job in message],
                        publisher=publisher,
                    )
                sent.update(job.id for job in message)
    except (Unavailable, OperationalError, KombuError, RedisError, OSError) as exc:
        unsent = [job for job in new_jobs if job.id not in sent]
        jobs.fail_unsent(
            session=session,
            job_ids=[job.id for job in unsent],
            now=utcnow(),
            message="the broker (Redis) is unavailable",
        )
        session.commit()
        for job in unsent:
            job.status, job.idempotency_key = JobStatus.FAILED, None
        raise Unavailable("the broker (Redis) is unavailable; try again shortly") from exc


@contextmanager
def _publisher(producer: Producer) -> Iterator[Any]:
    """One kombu producer for a batch, when the app can lend one (a Celery app can):
    its messages are buffered and go to Redis as one pipeline when the batch ends."""
    acquire = getattr(producer, "producer_or_acquire", None)
    if acquire is None:
        yield None
        return
    with acquire() as publisher, publisher.batch():
        yield publisher


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
    prepared = prepare_many(
        session=session, requests=[Request(k, p) for k, p in steps], check="first"
    )
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
