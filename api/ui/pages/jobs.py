"""Jobs: a filterable, paged list; a job's page (live while it runs) with its result,
error, artifacts, pipeline or schedule; cancel; artifact downloads."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.deps import ProducerDep, SessionDep, SettingsDep
from api.routes import jobs as job_routes
from api.routes import pipelines as pipeline_routes
from api.ui.common import LIVE_DONE, REFUSALS, done, refusal
from api.ui.render import PREFIX, harden, page
from api.ui.session import ActionDep, ViewerDep
from core import artifacts, jobs, schedules
from core.errors import InvalidInput, NotFound
from core.kinds import CATALOG, POOL_QUEUES, SYSTEM_QUEUE, get_kind
from core.tables import Job, JobStatus, utcnow

router = APIRouter()

PAGE_SIZE = 50
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
SINCE_LABELS = {"": "any time", "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days"}


def since_time(value: str | None) -> datetime | None:
    if not value:
        return None
    if value not in SINCE:
        raise InvalidInput(f"unknown time range {value!r}; known: {', '.join(SINCE)}")
    return utcnow() - SINCE[value]


@router.get("/jobs")
def job_list(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    kind: str | None = None,
    status: str | None = None,
    family: str | None = None,
    since: str | None = None,
    cursor: str | None = None,
    part: str | None = None,
) -> Response:
    """Jobs, newest first, by kind, status, family and time; `?part=rows` is the table."""
    if kind:
        get_kind(kind)
    if family and family not in (*POOL_QUEUES, SYSTEM_QUEUE):
        raise InvalidInput(f"unknown family {family!r}")
    found = jobs.list_jobs(
        session=session,
        kind=kind or None,
        status=status or None,
        queue=family or None,
        since=since_time(since),
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    context = {
        "section": "jobs",
        "jobs": found.jobs,
        "next_cursor": found.next_cursor,
        "kinds": sorted(CATALOG),
        "statuses": [s.value for s in JobStatus],
        "families": [*POOL_QUEUES, SYSTEM_QUEUE],
        "since_labels": SINCE_LABELS,
        "live": not cursor,
    }
    return page(request, "jobs.html", context, block="rows" if part else None)


def job_context(session: Session, job: Job) -> dict[str, Any]:
    pipeline = None
    if job.pipeline_id:
        try:
            pipeline = pipeline_routes.get_pipeline(job.pipeline_id, session)
        except NotFound:
            pipeline = None
    schedule = None
    if job.schedule_id:
        try:
            schedule = schedules.get(session=session, ref=job.schedule_id)
        except NotFound:
            schedule = None
    return {
        "section": "jobs",
        "job": job,
        "finished": JobStatus(job.status).finished,
        "artifacts": artifacts.list_artifacts(session=session, job_id=job.id),
        "pipeline": pipeline,
        "schedule": schedule,
        "children": jobs.list_jobs(session=session, parent_id=job.id, limit=20).jobs,
    }


def render_job(
    request: Request, session: Session, job_id: str, *, part: str | None = None, **extra: Any
) -> Response:
    job = jobs.get_job(session=session, job_id=job_id)
    context = {**job_context(session, job), **extra}
    headers = LIVE_DONE if part and context["finished"] else None
    return page(
        request,
        "job.html",
        context,
        block="live" if part else None,
        headers=headers,
        status_code=extra.get("error_status") or 200,
    )


@router.get("/jobs/{job_id}")
def job_page(
    request: Request, job_id: str, viewer: ViewerDep, session: SessionDep, part: str | None = None
) -> Response:
    """One job; `?part=live` is its status, progress and result, polled while it runs."""
    return render_job(request, session, job_id, part=part)


@router.post("/jobs/{job_id}/cancel")
def cancel(
    request: Request, job_id: str, action: ActionDep, session: SessionDep, producer: ProducerDep
) -> Response:
    try:
        job_routes.cancel_job(job_id, session, producer)
    except REFUSALS as exc:
        session.rollback()
        code, message, details = refusal(exc)
        if code == 404:
            raise
        return render_job(
            request, session, job_id, error=message, error_status=code, error_details=details
        )
    return done(request, f"{PREFIX}/jobs/{job_id}", "Cancelled.")


@router.get("/jobs/{job_id}/artifacts/{name}")
def artifact(
    request: Request,
    job_id: str,
    name: str,
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """An artifact, streamed by the API's own download route."""
    response = job_routes.download_artifact(job_id, name, session, settings)
    harden(response, request)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@router.get("/pipelines/{pipeline_id}")
def pipeline_page(
    request: Request, pipeline_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    pipeline = pipeline_routes.get_pipeline(pipeline_id, session)
    return page(request, "pipeline.html", {"section": "jobs", "pipeline": pipeline})
