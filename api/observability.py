"""What the API tells its operators: Prometheus metrics at `/metrics` and one log line
per request (request id, method, route, status, duration — never a header's value)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.broker import queue_depths
from core.config import API_PREFIX
from core.kinds import POOL_QUEUES, SYSTEM_QUEUE
from core.logs import request_context
from core.metrics import HTTP_REQUESTS, HTTP_SECONDS, QueueDepth

logger = logging.getLogger("triops.api.access")

router = APIRouter()


class RequestMetrics:
    """ASGI middleware: counts and times every request by its route template (so
    `/jobs/{job_id}` is one series, not one per job), gives it a request id (the
    client's `X-Request-ID` when it sends a sane one) and logs one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with request_context(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                seconds = time.perf_counter() - started
                route = _route_template(scope)
                method = scope.get("method", "")
                HTTP_REQUESTS.labels(route, method, str(status)).inc()
                HTTP_SECONDS.labels(route, method).observe(seconds)
                logger.info(
                    "%s %s %s %.1f ms",
                    method,
                    route,
                    status,
                    seconds * 1000,
                    extra={
                        "request_id": request_id,
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                    },
                )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if 0 < len(text) <= 64 and text.replace("-", "").isalnum():
                return text
    return uuid.uuid4().hex


def _route_template(scope: Scope) -> str:
    """The matched route's template with the prefix it was mounted under (`/api/v1`)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not path:
        return "unmatched"
    if scope.get("path", "").startswith(API_PREFIX) and not str(path).startswith(API_PREFIX):
        return API_PREFIX + str(path)
    return str(path)


def queue_registry(celery: Any) -> CollectorRegistry:
    """A registry of the queue depths, read from the broker at scrape time."""
    registry = CollectorRegistry()
    queues = [*POOL_QUEUES, SYSTEM_QUEUE]
    registry.register(QueueDepth(lambda: queue_depths(celery, queues)))
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus metrics of this API process (no token: counts and timings only)."""
    queues: CollectorRegistry = request.app.state.queue_registry
    body = generate_latest(REGISTRY) + generate_latest(queues)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
