"""`GET /api/v1/health`: broker, database and workers per pool. No token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas.jobs import HealthOut
from core.db import ping
from core.kinds import POOL_QUEUES

router = APIRouter(tags=["health"])

PING_TIMEOUT_S = 1.0


def workers_by_pool(celery: Any) -> dict[str, list[str]]:
    """Hostnames answering a ping, grouped by pool (`aiops@host` belongs to aiops)."""
    pools: dict[str, list[str]] = {pool: [] for pool in POOL_QUEUES}
    replies = celery.control.ping(timeout=PING_TIMEOUT_S) or []
    for reply in replies:
        for hostname in reply:
            pool = hostname.split("@", 1)[0]
            pools.setdefault(pool, []).append(hostname)
    return {pool: sorted(names) for pool, names in pools.items()}


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(request: Request) -> JSONResponse:
    """Broker, database and the workers of each pool."""
    database: dict[str, Any] = {"ok": True}
    broker: dict[str, Any] = {"ok": True}
    workers: dict[str, list[str]] = {pool: [] for pool in POOL_QUEUES}
    try:
        with request.app.state.sessionmaker() as session:
            ping(session)
    except Exception as exc:
        database = {"ok": False, "error": type(exc).__name__}
    celery = request.app.state.celery
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        workers = workers_by_pool(celery)
    except Exception as exc:
        broker = {"ok": False, "error": type(exc).__name__}
    if not (database["ok"] and broker["ok"]):
        status, code = "unavailable", 503
    elif all(workers.get(pool) for pool in POOL_QUEUES):
        status, code = "ok", 200
    else:
        status, code = "degraded", 200
    body = HealthOut(status=status, database=database, broker=broker, workers=workers)
    return JSONResponse(body.model_dump(), status_code=code)
