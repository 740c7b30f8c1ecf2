"""The FastAPI application, declared in one place: `create_app(settings)`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline

from api import observability
from api.deps import require_token
from api.errors import EXCEPTION_HANDLERS
from api.observability import RequestMetrics
from api.openapi import build_openapi
from api.request_guard import RequestGuard
from api.routes import (
    aiops,
    dataops,
    files,
    health,
    jobs,
    kinds,
    mlops,
    pipelines,
    schedules,
    tokens,
)
from api.ui import console_handlers
from api.ui import install as install_console
from core.broker import create_celery
from core.config import API_PREFIX, Settings, get_settings
from core.db import session_factory
from core.kinds import load_plugins
from core.redaction import register_secrets


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API for `settings` (default: from the environment)."""
    settings = settings or get_settings()
    register_secrets(settings.secret_values())  # masked in every log line (core/redaction)
    load_plugins(settings)  # before the catalog is read: routes, OpenAPI, the producer
    protected = APIRouter(dependencies=[Depends(require_token)])
    for module in (kinds, files, jobs, pipelines, aiops, mlops, dataops, schedules, tokens):
        protected.include_router(module.router)
    app = FastAPIOffline(  # Swagger UI and ReDoc served from the package: no CDN
        title="triops",
        version="0.1.0",
        description="Jobs for AIOps, MLOps and DataOps on Celery + Redis. "
        "Every call but /api/v1/health needs `Authorization: Bearer <token>`.",
        exception_handlers=console_handlers(EXCEPTION_HANDLERS),  # pages under /ui
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.add_middleware(
        RequestGuard,  # inside the metrics, so refused requests are counted too
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        max_json_depth=settings.max_json_depth,
        upload_paths=frozenset({f"{API_PREFIX}/files"}),
    )
    app.add_middleware(RequestMetrics)
    app.include_router(observability.router)
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(protected, prefix=API_PREFIX)
    install_console(app)  # the console: /ui
    app.state.settings = settings
    app.state.sessionmaker = session_factory(settings)
    app.state.celery = create_celery(settings)
    app.state.queue_registry = observability.queue_registry(app.state.celery)
    app.state.admin_token = settings.admin_token()
    return app
