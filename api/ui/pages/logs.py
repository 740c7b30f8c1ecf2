"""Logs and metrics: log streams with their templates, the jobs that read logs and series
(log anomalies, metric anomalies, forecasts) with their results."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep
from api.ui.render import page
from api.ui.session import ViewerDep
from core import jobs, log_streams
from core.kinds.aiops import (
    DETECT_LOG_ANOMALIES,
    DETECT_METRIC_ANOMALIES,
    FORECAST_CAPACITY,
    PARSE_LOGS,
)

router = APIRouter()

RECENT = 20


@router.get("/logs")
def logs_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    context = {
        "section": "logs",
        "streams": log_streams.list_streams(session=session),
        "anomaly_jobs": jobs.list_jobs(
            session=session, kind=DETECT_LOG_ANOMALIES.name, limit=RECENT
        ).jobs,
        "parse_jobs": jobs.list_jobs(session=session, kind=PARSE_LOGS.name, limit=RECENT).jobs,
    }
    return page(request, "logs.html", context)


@router.get("/logs/{stream}")
def stream_page(request: Request, stream: str, viewer: ViewerDep, session: SessionDep) -> Response:
    found = log_streams.get_stream(session=session, name=stream)
    context = {
        "section": "logs",
        "stream": found,
        "templates": log_streams.list_templates(session=session, name=stream, limit=1000),
        "jobs": log_streams.stream_jobs(session=session, name=stream),
    }
    return page(request, "stream.html", context)


@router.get("/metrics")
def metrics_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    anomaly = jobs.list_jobs(session=session, kind=DETECT_METRIC_ANOMALIES.name, limit=RECENT).jobs
    forecast = jobs.list_jobs(session=session, kind=FORECAST_CAPACITY.name, limit=RECENT).jobs
    context = {"section": "metrics", "anomaly_jobs": anomaly, "forecast_jobs": forecast}
    return page(request, "metrics.html", context)
