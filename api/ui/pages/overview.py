"""The overview: health of broker, database and pools; the last hour's jobs; open
incidents; live model versions; the last runs of schedules."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import SessionDep, SettingsDep
from api.routes.health import workers_by_pool
from api.ui.render import page
from api.ui.session import ViewerDep
from core import incidents, jobs, registry, schedules
from core.broker import queue_lengths
from core.config import Settings
from core.db import ping
from core.kinds import POOL_QUEUES, SYSTEM_QUEUE
from core.tables import JobStatus, utcnow

router = APIRouter()

SEVERITIES = ("critical", "error", "warning", "info")
QUEUES = (*POOL_QUEUES, SYSTEM_QUEUE)


def flower_url(request: Request, settings: Settings) -> str:
    host = settings.flower_host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a wildcard bind: the host the browser used
        host = request.url.hostname or "127.0.0.1"
    return f"http://{host}:{settings.flower_port}"


HEALTH_TTL_S = 5.0
"""How long a health check is reused: many open consoles ping the workers once."""


def health(request: Request) -> dict[str, Any]:
    """The latest health check, at most HEALTH_TTL_S old."""
    state = request.app.state
    cached: tuple[float, dict[str, Any]] | None = getattr(state, "console_health", None)
    if cached is not None and time.monotonic() - cached[0] < HEALTH_TTL_S:
        return cached[1]
    found = check_health(request)
    state.console_health = (time.monotonic(), found)
    return found


def check_health(request: Request) -> dict[str, Any]:
    """Broker, database, the workers of each pool and each queue's waiting messages."""
    database: dict[str, Any] = {"ok": True, "error": None}
    broker: dict[str, Any] = {"ok": True, "error": None}
    workers: dict[str, list[str]] = {pool: [] for pool in POOL_QUEUES}
    depths: dict[str, int | None] = dict.fromkeys(QUEUES)
    try:
        with request.app.state.sessionmaker() as session:
            ping(session)
    except Exception as exc:
        database = {"ok": False, "error": type(exc).__name__}
    celery = request.app.state.celery
    try:
        depths.update(queue_lengths(celery, QUEUES))
        workers = workers_by_pool(celery)
    except Exception as exc:
        broker = {"ok": False, "error": type(exc).__name__}
    if not (database["ok"] and broker["ok"]):
        status = "unavailable"
    elif all(workers.get(pool) for pool in POOL_QUEUES):
        status = "ok"
    else:
        status = "degraded"
    pools = [
        {
            "name": q,
            "workers": workers.get(q, []) if q != SYSTEM_QUEUE else None,
            "depth": depths[q],
        }
        for q in QUEUES
    ]
    return {"status": status, "database": database, "broker": broker, "pools": pools}


@router.get("")
def overview(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    part: str | None = None,
) -> Response:
    """The overview page; `?part=health` is its live health block alone."""
    if part == "health":
        live = {"health": health(request), "flower": flower_url(request, settings)}
        return page(request, "overview.html", live, block="health")
    now = utcnow()
    counts = jobs.counts_since(session=session, since=now - timedelta(hours=1))
    statuses = [s.value for s in JobStatus]
    table = {q: dict.fromkeys(statuses, 0) for q in QUEUES}
    for queue, status, count in counts:
        table.setdefault(queue, dict.fromkeys(statuses, 0))[status] = count
    by_severity = incidents.open_by_severity(session=session)
    open_rows, _ = incidents.list_incidents(session=session, status="open", limit=5)
    acked_rows, _ = incidents.list_incidents(session=session, status="acknowledged", limit=5)
    rows = schedules.list_all(session=session)
    last = schedules.last_statuses(session=session, rows=rows)
    context: dict[str, Any] = {
        "section": "overview",
        "health": None,
        "flower": flower_url(request, settings),
        "statuses": statuses,
        "job_table": table,
        "job_total": sum(c for _, _, c in counts),
        "severities": SEVERITIES,
        "by_severity": by_severity,
        "open_total": sum(by_severity.values()),
        "recent_incidents": sorted(
            [*open_rows, *acked_rows], key=lambda i: i.last_alert_at, reverse=True
        )[:5],
        "models": registry.list_models(session=session),
        "aliases": registry.all_aliases(session=session),
        "schedules": [schedules.view(r, last) for r in rows],
    }
    return page(request, "overview.html", context)


@router.get("/health")
def health_page(request: Request, viewer: ViewerDep, settings: SettingsDep) -> Response:
    """The health block as a page of its own (no script needed)."""
    context: dict[str, Any] = {
        "section": "overview",
        "health": health(request),
        "flower": flower_url(request, settings),
    }
    return page(request, "health.html", context)
