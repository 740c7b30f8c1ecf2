"""`JobTask`: the one base class that owns a job's status, retries and error mapping.

A task body is load → domain → save: it receives a `JobContext` and its validated
params, and returns the small JSON result. Everything around it — the `running` row,
the attempt count, the worker name, retries of transient failures, `failed` with the
error's type and message — happens here, once.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import pandas as pd
from celery import Task, shared_task, signature
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded
from kombu.exceptions import OperationalError as KombuOperationalError
from pydantic import BaseModel
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError as SQLOperationalError
from sqlalchemy.orm import Session

from core import artifacts, dataset_versions, files, jobs, liveness, pipelines
from core.config import Settings, get_settings
from core.db import autocommit, session_scope
from core.errors import PayloadTooLarge, TriopsError, Unavailable
from core.kinds import CATALOG, JobKind
from core.logs import log_context
from core.metrics import JOB_REDELIVERIES, JOB_RETRIES, JOB_SECONDS, JOBS_FINISHED
from core.redaction import redact_value
from core.storage import CHUNK_BYTES, ChecksumMismatch, artifact_store, file_store
from core.tables import (
    DatasetVersion,
    JobStatus,
    StoredFile,
    artifact_download_path,
    utcnow,
)
from core.validation import json_size, storable
from domain.backoff import compute_backoff
from domain.dataops.refs import DatasetRef
from domain.errors import DomainError, StateConflict

logger = logging.getLogger("triops.tasks")

T = TypeVar("T")

TRANSIENT = (Unavailable, SQLOperationalError, KombuOperationalError, RedisConnectionError)
"""Failures worth another attempt: a service was briefly unreachable."""

PROGRESS_EVERY_S = 0.5
"""Progress is written at most this often."""

PROGRESS_AFTER_S = 1.0
"""Nor before a job has run this long: a job that finishes in milliseconds writes none."""


@dataclass
class JobContext:
    """What a task body may use: its job's identity, settings, files, artifacts, progress."""

    job_id: str
    kind: JobKind
    attempt: int
    worker: str
    settings: Settings
    _started: float = field(default_factory=time.monotonic, repr=False)
    _last_progress: float = field(default=0.0, repr=False)

    def now(self) -> datetime:
        return utcnow()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.settings) as session:
            yield session

    def progress(self, fraction: float, message: str | None = None, *, force: bool = False) -> None:
        """Report progress (0..1). Nothing is written in a job's first second (a quick job
        writes no progress at all), then at most every half second unless `force`d."""
        now = time.monotonic()
        if now - self._started < PROGRESS_AFTER_S:
            return
        if not force and now - self._last_progress < PROGRESS_EVERY_S:
            return
        self._last_progress = now
        with self.session() as session:
            jobs.set_progress(
                session=session, job_id=self.job_id, fraction=fraction, message=message
            )

    def file_record(self, file_id: str) -> StoredFile:
        with self.session() as session:
            return files.get_file(session=session, file_id=file_id)

    @contextmanager
    def open_file(self, file_id: str) -> Iterator[IO[Any]]:
        """An uploaded file, opened for binary reading."""
        record = self.file_record(file_id)
        with file_store(self.settings).open_verified(
            record.url, record.sha256, what=_upload(record)
        ) as handle:
            yield handle

    @contextmanager
    def scratch(self, prefix: str = "triops-") -> Iterator[Path]:
        """A temporary folder under `$TRIOPS_HOME/tmp`, removed afterwards."""
        self.settings.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=prefix, dir=self.settings.scratch_dir) as tmp:
            yield Path(tmp)

    @contextmanager
    def local_file(self, file_id: str) -> Iterator[Path]:
        """An uploaded file as a local path. From a remote store (s3://) it is streamed into
        a temporary file under `$TRIOPS_HOME/tmp`, checked against the sha256 recorded at
        upload, and removed afterwards."""
        record = self.file_record(file_id)
        store = file_store(self.settings)
        path = store.local_path(record.url)
        if path is not None:
            store.verify(record.url, record.sha256, what=_upload(record))
            yield Path(path)
            return
        with self.scratch("triops-input-") as tmp:
            target = tmp / "input"
            digest = hashlib.sha256()
            with store.open(record.url) as src, open(target, "wb") as out:
                for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != record.sha256:
                raise ChecksumMismatch(
                    f"uploaded file {file_id} does not match its recorded sha256",
                    details={"expected": record.sha256, "actual": digest.hexdigest()},
                )
            yield target

    @contextmanager
    def open_dataset(self, ref: DatasetRef) -> Iterator[tuple[IO[Any], DatasetVersion]]:
        """A DataOps dataset version (`name@version`): its Parquet file, opened, and its row."""
        with self.session() as session:
            row = dataset_versions.get_version(session=session, name=ref.name, version=ref.version)
        store = artifact_store(self.settings)
        what = f"dataset {row.dataset}@{row.version}"
        with store.open_verified(row.url, row.sha256, what=what) as handle:
            yield handle, row

    def dataset_frame(self, ref: DatasetRef) -> tuple[pd.DataFrame, DatasetVersion]:
        """A DataOps dataset version (`name@version`), read whole."""
        with self.open_dataset(ref) as (handle, row):
            return pd.read_parquet(io.BytesIO(handle.read())), row

    def save_artifact(self, name: str, data: bytes | Path, media_type: str) -> SavedArtifact:
        """Store an artifact of this job; a rerun replaces the file and its row."""
        store = artifact_store(self.settings)
        segments = (self.job_id, name)
        info = (
            store.put_file(segments, str(data))
            if isinstance(data, Path)
            else store.put_bytes(segments, data)
        )
        with self.session() as session:
            artifacts.upsert_artifact(
                session=session, job_id=self.job_id, name=name, info=info, media_type=media_type
            )
        return SavedArtifact(
            job_id=self.job_id,
            name=name,
            size=info.size,
            sha256=info.sha256,
            media_type=media_type,
            url=info.url,
        )


def _upload(record: StoredFile) -> str:
    return f"upload {record.id} ({record.name})"


@dataclass(frozen=True)
class SavedArtifact:
    """An artifact just stored. `url` is where the store keeps it, for our own records
    (a model version, a dataset version); results show `public()`, never that."""

    job_id: str
    name: str
    size: int
    sha256: str
    media_type: str
    url: str

    def public(self) -> dict[str, Any]:
        """What a job result says of it: its name, size, checksum and download URL."""
        return {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "media_type": self.media_type,
            "download": artifact_download_path(self.job_id, self.name),
        }


class WorkerLost(TriopsError):
    """A job whose worker process died on every attempt."""

    status_code = 500


class Deferred(dict[str, Any]):
    """A body's answer when the job goes on in other tasks (a chord of parts, then a
    commit): `launch` starts them, given the rest of the job's pipeline chain, which is
    held back until the task that finishes the job records it (`finish_deferred`). The
    job stays `running` until then."""

    def __init__(self, launch: Callable[[list[Any] | None], None], **info: Any) -> None:
        super().__init__(info)
        self.launch = launch


def retry_delay_s(settings: Settings, attempt: int) -> float:
    """Seconds before retrying after a transient failure on `attempt` (from 1)."""
    return compute_backoff(
        attempt,
        factor_s=settings.retry_backoff_s,
        jitter=0.5,
        max_backoff_s=settings.retry_max_backoff_s,
        rand=random.random(),
    )


def error_dict(exc: BaseException) -> dict[str, Any]:
    """A failure as the job row records it: its type and message (and details), with
    any secret the text would show masked (`core.redaction`) and text the database cannot
    store replaced."""
    body: dict[str, Any] = storable(redact_value(_error_body(exc)))
    return body


def _error_body(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, TriopsError):
        return exc.to_dict()
    if isinstance(exc, DomainError):
        error_type = "Conflict" if isinstance(exc, StateConflict) else "InvalidInput"
        body: dict[str, Any] = {"type": error_type, "message": str(exc)}
        if exc.details is not None:
            body["details"] = exc.details
        return body
    if isinstance(exc, SoftTimeLimitExceeded):
        return {"type": "TimeLimitExceeded", "message": "the job ran past its time limit"}
    message = str(exc) or type(exc).__name__
    return {"type": type(exc).__name__, "message": message[:2000]}


class JobTask(Task):
    """Base class of every triops task; see the module docstring."""

    abstract = True
    typing = False  # the message carries no arguments: __call__ builds the body's (ctx, params)
    max_retries = None  # attempts are counted on the job row, against the catalog's limit

    def __call__(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        kind = CATALOG[self.name]
        worker: str = self.request.hostname or os.uname().nodename
        pool = worker.split("@", 1)[0]
        with log_context(job_id=self.request.id, kind=kind.name, pool=pool):
            return self._attempt(kind, worker, pool, kwargs)

    def _attempt(
        self, kind: JobKind[Any], worker: str, pool: str, kwargs: dict[str, Any]
    ) -> dict[str, Any] | None:
        settings = get_settings()
        job_id: str = self.request.id
        try:
            started = self._start(settings, kind, job_id, worker, kwargs)
        except liveness.LeaseHeld as held:
            # Run (as its worker's last beat says) by another worker: look again after
            # that worker's next beat, then drop this message or take the job over.
            logger.info("job %s is leased to %s; checking again shortly", job_id, held)
            raise self.retry(
                countdown=liveness.HEARTBEAT_S * 1.5,
                kwargs={"recheck": str(held)},
                max_retries=None,
            ) from None
        except SQLOperationalError as exc:
            # The database is down before the job even started: the message goes back
            # to the broker for later, and nothing is lost.
            delay = retry_delay_s(settings, self.request.retries + 1)
            logger.warning("job %s: database unavailable at start; retry in %.1f s", job_id, delay)
            raise self.retry(countdown=delay, exc=exc, max_retries=None) from exc
        if started is None:
            return None
        params, attempt = started
        if attempt > self.request.retries + 1:  # an earlier attempt was lost, not retried
            JOB_REDELIVERIES.labels(kind.name, pool).inc()
        ctx = JobContext(
            job_id=job_id, kind=kind, attempt=attempt, worker=worker, settings=settings
        )
        clock = time.perf_counter()
        try:
            model: BaseModel = kind.params_model.model_validate(params)
            result = self.run(ctx, model)
            if not isinstance(result, Deferred):
                check_result_size(settings, result)
            if isinstance(result, Deferred):
                # The next pipeline step waits for the task that finishes this job.
                rest, self.request.chain = self.request.chain, None
                result.launch(rest)
        except Retry:
            raise
        except SystemExit:
            # This pool process is being terminated (a revoke with terminate, as Flower
            # sends): not the job's failure. The worker's main process records what
            # happened — `workers/revokes.py` marks the row cancelled.
            JOB_SECONDS.labels(kind.name, pool).observe(time.perf_counter() - clock)
            raise
        except TRANSIENT as exc:
            JOB_SECONDS.labels(kind.name, pool).observe(time.perf_counter() - clock)
            if attempt < kind.max_attempts:
                delay = retry_delay_s(settings, attempt)
                self._record_retry(settings, job_id, exc, delay)
                JOB_RETRIES.labels(kind.name, pool).inc()
                raise self.retry(countdown=delay, exc=exc) from exc
            self._record_failure(settings, job_id, exc)
            JOBS_FINISHED.labels(kind.name, pool, "failed").inc()
            raise
        except BaseException as exc:
            JOB_SECONDS.labels(kind.name, pool).observe(time.perf_counter() - clock)
            self._record_failure(settings, job_id, exc)
            JOBS_FINISHED.labels(kind.name, pool, "failed").inc()
            raise
        if isinstance(result, Deferred):
            return None  # other tasks carry on: the one that finishes records the result
        try:
            mark_succeeded(settings, job_id, result)
        except SQLOperationalError as exc:
            # The database stayed away past our patience: run the job again later
            # rather than leave its row running with nobody on it.
            raise Reject(exc, requeue=True) from exc
        seconds = time.perf_counter() - clock
        JOB_SECONDS.labels(kind.name, pool).observe(seconds)
        JOBS_FINISHED.labels(kind.name, pool, "succeeded").inc()
        logger.info(
            "job succeeded in %.3f s (attempt %d)",
            seconds,
            attempt,
            extra={"status": "succeeded", "duration_s": round(seconds, 4), "attempt": attempt},
        )
        return result

    def _start(
        self, settings: Settings, kind: JobKind, job_id: str, worker: str, kwargs: dict[str, Any]
    ) -> tuple[dict[str, Any], int] | None:
        """Mark the job running; None when its message must be dropped (a finished job,
        or one still run by a live process)."""
        me = liveness.current_instance()
        if "params" in kwargs:
            with session_scope(settings) as session:
                jobs.adopt_job(session=session, kind=kind, job_id=job_id, params=kwargs["params"])
        # The claim is one statement committed as it runs: one round trip in the usual case,
        # and it does not wait for the database's disk. Were the database to crash and
        # forget it, nothing is lost: the message is acknowledged only after the result's
        # write, which is durable and makes every earlier write durable with it; until
        # then the broker still holds the message and the row still says `queued`.
        with autocommit(settings, durable=False) as conn:
            started = jobs.start_attempt(
                session=conn,
                job_id=job_id,
                worker=worker,
                lease=liveness.lease_of(me, os.getpid()),
                now=utcnow(),
                lease_alive=lambda lease: self._lease_alive(
                    lease, me, checked=kwargs.get("recheck")
                ),
            )
        if started is None:
            logger.info("job %s is finished, unknown or run elsewhere; message dropped", job_id)
            with session_scope(settings) as session:
                stored = jobs.find_job(session=session, job_id=job_id)
                if stored is not None and stored.status == JobStatus.CANCELLED:
                    pipelines.skip_rest_of_pipeline(session=session, job_id=job_id, now=utcnow())
                    session.commit()
                    raise Ignore()  # a cancelled step also stops the chain it is part of
            return None
        if started.taken_over and started.attempt > kind.max_attempts:
            # Its process died on every attempt: a job that kills its worker must not
            # loop through the pool forever.
            mark_failed(
                settings,
                job_id,
                WorkerLost(
                    f"the job's worker process died while running it, {started.attempt - 1} "
                    "times; it is not run again"
                ),
            )
            return None
        return started.params, started.attempt

    def _lease_alive(self, lease: str | None, me: str | None, *, checked: str | None) -> bool:
        """Whether the job's current lease may still be running it. Another instance's
        lease is judged by its last beat, which may not yet know a pool process just
        died: the first time this message meets that lease (`checked` is the lease it
        met before, if any), LeaseHeld asks to look again after the next beat."""
        if lease is None:
            return False
        if lease.rpartition("/")[0] == me:
            return liveness.lease_alive(lease, {}, me=me)
        with self.app.connection_for_read() as conn:
            alive = liveness.alive_instances(conn.default_channel.client)
        held = liveness.lease_alive(lease, alive, me=me)
        if held and checked != lease:
            raise liveness.LeaseHeld(lease)
        return held

    def _record_retry(
        self, settings: Settings, job_id: str, exc: BaseException, delay_s: float
    ) -> None:
        note = f"transient failure, retrying in {delay_s:.1f} s"
        try:
            with session_scope(settings) as session:
                jobs.mark_retrying(
                    session=session, job_id=job_id, error=error_dict(exc), now=utcnow(), note=note
                )
        except SQLOperationalError:
            logger.warning("job %s: could not record the retry (database down)", job_id)

    def _record_failure(self, settings: Settings, job_id: str, exc: BaseException) -> None:
        if not isinstance(exc, TriopsError | DomainError | SoftTimeLimitExceeded):
            logger.exception("job %s failed", job_id)
        else:
            logger.info("job failed: %s", exc, extra={"status": "failed"})
        mark_failed(settings, job_id, exc)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Reached also for failures outside __call__ (a hard time limit kill): make sure
        # the row does not stay `running`. finish_job never overwrites a finished job.
        try:
            mark_failed(get_settings(), task_id, exc)
        except Exception:
            logger.exception("job %s: could not record the failure", task_id)


RECORD_PATIENCE_S = 300.0
"""How long a worker keeps trying to record a job's outcome while the database is away
(the work is done: it is not thrown away for an outage of a few minutes)."""


def durably(
    settings: Settings, record: Callable[[], T], *, patience_s: float = RECORD_PATIENCE_S
) -> T:
    """Run `record` (a write of a job's outcome), retrying with backoff while the
    database cannot be reached, for up to `patience_s` seconds."""
    deadline = time.monotonic() + patience_s
    attempt = 0
    while True:
        try:
            return record()
        except SQLOperationalError:
            attempt += 1
            delay = min(retry_delay_s(settings, attempt), 10.0)
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database unavailable; recording again in %.1f s", delay)
            time.sleep(delay)


def check_result_size(settings: Settings, result: Any) -> None:
    """Refuse a result the jobs table should not hold (`TRIOPS_MAX_RESULT_BYTES`)."""
    size = json_size(result)
    if size > settings.max_result_bytes:
        raise PayloadTooLarge(
            f"the job's result is {size:,} bytes as JSON, over the limit of "
            f"{settings.max_result_bytes:,} (TRIOPS_MAX_RESULT_BYTES); a job writes big "
            "outputs as artifacts"
        )


def mark_succeeded(settings: Settings, job_id: str, result: dict[str, Any]) -> bool:
    """Record a job's result (secrets masked, text the database cannot store replaced);
    False when it was cancelled meanwhile."""
    result = storable(redact_value(result))

    def record() -> bool:
        with autocommit(settings) as conn:  # one statement, one round trip
            return jobs.finish_job(
                session=conn,
                job_id=job_id,
                status=JobStatus.SUCCEEDED,
                now=utcnow(),
                result=result,
            )

    return durably(settings, record)


def finish_deferred(
    app: Any,
    settings: Settings,
    job_id: str,
    rest: list[Any] | None,
    result: dict[str, Any] | None = None,
    exc: BaseException | None = None,
) -> None:
    """Finish a job a `Deferred` body handed on: record its result and send the pipeline
    step it held back, or record its failure and skip the steps after it."""
    if exc is not None:
        mark_failed(settings, job_id, exc)
        return
    assert result is not None
    if mark_succeeded(settings, job_id, result) and rest:
        # As Celery's tracer does after a task in a chain: the next step, with the rest.
        rest = list(rest)
        signature(rest.pop(), app=app).apply_async(chain=rest or None)


def mark_failed(settings: Settings, job_id: str, exc: BaseException) -> None:
    """Record a job's failure (and skip the pipeline steps after it)."""

    def record() -> None:
        with session_scope(settings) as session:
            jobs.finish_job(
                session=session,
                job_id=job_id,
                status=JobStatus.FAILED,
                now=utcnow(),
                error=error_dict(exc),
            )
            pipelines.skip_rest_of_pipeline(session=session, job_id=job_id, now=utcnow())

    durably(settings, record)


class PartTask(Task):
    """A piece of a job that another task started (the parts and the commit of a split
    ETL). The job's row stays `running` while its pieces run, so this class does not
    touch the status; it applies the job's policy: a transient failure is retried with
    the same backoff as a job, up to the kind's attempts; any other failure, or the last
    transient one, goes to `give_up`, which a subclass defines (record the error for the
    commit; fail the job)."""

    abstract = True
    job_kind: JobKind[Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.run(*args, **kwargs)
        except Retry:
            raise
        except TRANSIENT as exc:
            attempt = self.request.retries + 1
            if attempt < self.job_kind.max_attempts:
                delay = retry_delay_s(get_settings(), attempt)
                logger.warning("%s: transient failure, retry in %.1f s", self.name, delay)
                raise self.retry(countdown=delay, exc=exc, max_retries=None) from exc
            return self.give_up(exc, args)
        except Exception as exc:
            if not isinstance(exc, TriopsError | DomainError):
                logger.exception("%s failed", self.name)
            return self.give_up(exc, args)

    def give_up(self, exc: BaseException, args: tuple[Any, ...]) -> Any:
        raise exc


def part_task(name: str, base: type[PartTask], **options: Any) -> Callable[..., Any]:
    """Register a piece of a job's work under `base`'s policy, with the job's limits."""
    kind = base.job_kind
    return shared_task(
        name=name,
        base=base,
        bind=True,
        time_limit=kind.time_limit_s,
        soft_time_limit=kind.soft_time_limit_s,
        acks_late=True,
        reject_on_worker_lost=True,
        **options,
    )


def job_task(name: str) -> Callable[[Callable[[JobContext, Any], dict[str, Any]]], Any]:
    """Register a task body for the catalog kind `name`, with the kind's time limits."""
    kind = CATALOG[name]
    return shared_task(
        name=name,
        base=JobTask,
        time_limit=kind.time_limit_s,
        soft_time_limit=kind.soft_time_limit_s,
        acks_late=True,
        reject_on_worker_lost=True,
    )
