"""`GET /api/v1/health`: broker, database and workers per pool. No token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.schemas.jobs import HealthOut
from core import liveness
from core.db import ping
from core.kinds import POOL_QUEUES

router = APIRouter(tags=["health"])


def workers_by_pool(celery: Any) -> dict[str, list[str]]:
    """The worker instances that beat within the last seconds (`core/liveness.py`),
    grouped by pool (`aiops@host:pid` belongs to aiops). One read of Redis: no broadcast
    to wait on, so health answers at once whatever the load."""
    pools: dict[str, list[str]] = {pool: [] for pool in POOL_QUEUES}
    with celery.connection_for_read() as conn:
        alive = liveness.alive_instances(conn.default_channel.client)
    for instance in alive:
        pools.setdefault(instance.split("@", 1)[0], []).append(instance)
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
