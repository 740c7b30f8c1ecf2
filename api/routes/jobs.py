"""Jobs: submit (one or many), read, list, cancel, artifacts."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from api.deps import ProducerDep, SessionDep, SettingsDep, require
from api.downloads import blob_response
from api.schemas.jobs import ArtifactOut, BatchOut, BatchSubmit, JobOut, JobPage, JobSubmit
from core import artifacts, jobs, submission
from core.kinds import get_kind
from core.pagination import MAX_PAGE
from core.storage import artifact_store
from core.tables import Artifact, Job, JobStatus, utcnow

logger = logging.getLogger("triops.api")
router = APIRouter(tags=["jobs"])


@router.post(
    "/jobs",
    dependencies=[require("submit")],
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={200: {"description": "An existing job with the same idempotency key"}},
)
def submit_job(
    body: JobSubmit,
    response: Response,
    session: SessionDep,
    producer: ProducerDep,
    settings: SettingsDep,
) -> Job:
    """Submit a job: 202 with the new job; 200 with the existing one for a repeated key."""
    job, created = submission.submit(
        session=session,
        producer=producer,
        kind_name=body.kind,
        params=body.params,
        idempotency_key=body.idempotency_key,
        settings=settings,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return job


@router.post(
    "/jobs:batch",
    dependencies=[require("submit")],
    response_model=BatchOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def submit_batch(
    body: BatchSubmit, session: SessionDep, producer: ProducerDep, settings: SettingsDep
) -> BatchOut:
    """Submit many jobs in one transaction; all are validated first, so one bad job
    submits none (the error names its index)."""
    planned = submission.submit_many(
        session=session,
        producer=producer,
        requests=[submission.Request(j.kind, j.params, j.idempotency_key) for j in body.jobs],
        settings=settings,
    )
    return BatchOut(
        jobs=[JobOut.model_validate(job) for job, _ in planned],
        created=[created for _, created in planned],
    )


@router.get("/jobs", dependencies=[require("read")], response_model=JobPage)
def list_jobs(
    session: SessionDep,
    kind: Annotated[str | None, Query(description="A kind from GET /kinds.")] = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    parent_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> JobPage:
    """A page of jobs, newest first, filtered by kind and status."""
    if kind:
        get_kind(kind)  # an unknown kind is a 422 listing the known ones, not an empty page
    page = jobs.list_jobs(
        session=session, kind=kind, status=status_, parent_id=parent_id, limit=limit, cursor=cursor
    )
    return JobPage(jobs=[JobOut.model_validate(j) for j in page.jobs], next_cursor=page.next_cursor)


@router.get("/jobs/{job_id}", dependencies=[require("read")], response_model=JobOut)
def get_job(job_id: str, session: SessionDep) -> Job:
    """One job with its status, progress, result or error."""
    return jobs.get_job(session=session, job_id=job_id)


@router.post("/jobs/{job_id}/cancel", dependencies=[require("submit")], response_model=JobOut)
def cancel_job(job_id: str, session: SessionDep, producer: ProducerDep) -> Job:
    """Cancel a queued or running job (revoked at the worker); 409 if already finished."""
    was_running = jobs.get_job(session=session, job_id=job_id).status == JobStatus.RUNNING
    job = jobs.cancel_job(session=session, job_id=job_id, now=utcnow())
    session.commit()
    try:
        producer.control.revoke(job_id, terminate=was_running, signal="SIGTERM")
    except Exception:
        # The row says cancelled; a worker that gets the message later will not run it.
        logger.warning("could not broadcast revoke of %s", job_id, exc_info=True)
    return job


@router.get(
    "/jobs/{job_id}/artifacts", dependencies=[require("read")], response_model=list[ArtifactOut]
)
def list_artifacts(job_id: str, session: SessionDep) -> list[Artifact]:
    """The artifacts a job wrote."""
    return artifacts.list_artifacts(session=session, job_id=job_id)


@router.get(
    "/jobs/{job_id}/artifacts/{name}",
    dependencies=[require("read")],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_artifact(
    job_id: str, name: str, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """Download one artifact."""
    artifact = artifacts.get_artifact(session=session, job_id=job_id, name=name)
    return blob_response(
        artifact_store(settings),
        artifact.url,
        media_type=artifact.media_type,
        filename=artifact.name,
        sha256=artifact.sha256,
        size=artifact.size,
    )
