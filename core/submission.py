"""Submitting a job: validate against the catalog, write the row, then send the message.

The row is committed before the message is sent, so a worker never sees a message
without its job, and a message lost between the two is found by housekeeping.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Protocol

from kombu.exceptions import KombuError, OperationalError
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from core import dataset_versions, files, jobs
from core.catalog import JobKind, get_kind
from core.config import Settings
from core.errors import InvalidInput, NotFound, Unavailable
from core.params.dataops import Source, table_format
from core.storage import BlobStore
from core.tables import Job, JobStatus, Pipeline, utcnow


class Producer(Protocol):
    """What we need of a Celery app to send a message by task name."""

    def send_task(self, name: str, *args: Any, **kwargs: Any) -> Any: ...


SEND_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


def prepare(
    *, session: Session, kind_name: str, params: dict[str, Any]
) -> tuple[JobKind, dict[str, Any]]:
    """The kind and its validated params; files the params name must exist."""
    kind = get_kind(kind_name)
    clean = kind.validate_params(params)
    file_id = clean.get("file_id")
    if isinstance(file_id, str):
        try:
            record = files.get_file(session=session, file_id=file_id)
        except NotFound as exc:
            raise InvalidInput(
                f"unknown file_id {file_id}: upload it first with POST /api/v1/files",
                details=[{"loc": ["params", "file_id"], "msg": "file not found"}],
            ) from exc
        if kind.file_is_table:
            table_format(record.name)
    return kind, clean


def prepare_all(*, session: Session, items: list[tuple[str, dict[str, Any]]], noun: str) -> None:
    """Validate many submissions at once; InvalidInput lists every bad one by index."""
    problems = []
    for index, (kind_name, params) in enumerate(items):
        try:
            prepare(session=session, kind_name=kind_name, params=params)
        except InvalidInput as exc:
            problems.append({"index": index, **exc.to_dict()})
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(items)} {noun} are invalid", details=problems)


def precheck(
    *, session: Session, kind: JobKind, params: dict[str, Any], settings: Settings | None = None
) -> None:
    """Refuse at submit what the task would refuse anyway (unknown model, failed gate,
    unknown SQL connection...)."""
    connection = (params.get("source") or {}).get("connection")
    if (
        connection is not None
        and settings is not None
        and (connection not in settings.sql_connections)
    ):
        raise InvalidInput(
            f"unknown connection {connection!r}",
            details={"known_connections": sorted(settings.sql_connections)},
        )
    refs = [(params.get("source") or {}).get("dataset")]
    if kind.name == "dataops.profile":
        refs.append(params.get("dataset"))
    refs += [
        step.get("dataset") for step in params.get("transforms", []) + params.get("checks", [])
    ]
    for ref in filter(None, refs):
        name, version = str(ref).split("@", 1)
        dataset_versions.get_version(session=session, name=name, version=int(version))
    if kind.name in ("dataops.etl", "dataops.validate"):
        _precheck_columns(session=session, params=params, settings=settings)
    if kind.name.startswith("mlops."):
        from core.registry import precheck as registry_precheck

        registry_precheck(session=session, kind=kind.name, params=params)


def _precheck_columns(
    *, session: Session, params: dict[str, Any], settings: Settings | None
) -> None:
    """A spec naming columns its source does not have is refused at submit, when the
    source's columns are known without reading it: a dataset version's schema, or the
    header of an uploaded CSV or Parquet file. (SQL sources and paths with parameters
    are checked when the job starts, before anything is loaded.)"""
    from domain.dataops.spec import EtlSteps, validate_against_columns

    source = Source.model_validate(params["source"])
    columns: list[str] | None = None
    if source.dataset is not None:
        name, version = source.dataset.split("@", 1)
        row = dataset_versions.get_version(session=session, name=name, version=int(version))
        columns = [str(c["name"]) for c in row.columns]
    elif source.file_id is not None and settings is not None:
        record = files.get_file(session=session, file_id=source.file_id)
        columns = _file_columns(settings, record.url, record.name, source)
    if columns is None:
        return
    steps = EtlSteps.model_validate(
        {"transforms": params.get("transforms", []), "checks": params.get("checks", [])}
    )
    problems = validate_against_columns(list(steps.transforms), list(steps.checks), columns)
    if problems:
        raise InvalidInput(f"the spec does not fit the source: {problems}", details=problems)


def _file_columns(settings: Settings, url: str, name: str, source: Source) -> list[str] | None:
    """The column names of an uploaded CSV (its header line) or Parquet file (its
    schema); None for other formats or a file that does not read (the job says why)."""
    import pyarrow.parquet as pq  # here, not at the top: the API process stays light

    kind = source.format_of(name)
    try:
        with BlobStore(settings.files_url).open(url) as handle:
            if kind == "parquet":
                return [str(c) for c in pq.read_schema(handle).names]
            if kind == "csv":
                text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
                header = next(csv.reader(text, delimiter=source.delimiter), None)
                return header
    except (OSError, ValueError, csv.Error, NotFound):
        return None
    return None


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
    kind, clean = prepare(session=session, kind_name=kind_name, params=params)
    precheck(session=session, kind=kind, params=clean, settings=settings)
    job, created = jobs.create_job(
        session=session,
        kind=kind,
        params=clean,
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
        precheck(session=session, kind=prepared[0][0], params=prepared[0][1])
    pipeline = Pipeline(name=name, steps=len(prepared), origin=origin)
    session.add(pipeline)
    session.flush()
    rows = []
    for index, (kind, clean) in enumerate(prepared):
        job, _ = jobs.create_job(
            session=session, kind=kind, params=clean, origin=f"pipeline:{pipeline.id}"
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
