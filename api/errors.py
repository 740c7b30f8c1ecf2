"""Errors become HTTP responses here, at the edge, and nowhere else.

TriopsError subclasses carry their status code; a database or broker that cannot be
reached is a 503 with a plain message; anything unexpected is a 500 without a
traceback (the traceback goes to the log, with the request id).
"""

from __future__ import annotations

import logging
import uuid

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException

from core.errors import TriopsError, Unauthorized

logger = logging.getLogger("triops.api")


def error_body(type_: str, message: str, details: object = None) -> dict[str, object]:
    body: dict[str, object] = {"type": type_, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body, "detail": message}


async def triops_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TriopsError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse(
        error_body(type(exc).__name__, exc.message, exc.details),
        status_code=exc.status_code,
        headers=headers,
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
    body = error_body("InvalidInput", f"invalid request: {fields}", errors)
    body["detail"] = errors
    return JSONResponse(body, status_code=422)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("database unavailable: %s", exc)
    return JSONResponse(
        error_body("Unavailable", "the database is unavailable; try again shortly"),
        status_code=503,
    )


async def broker_unavailable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning("broker unavailable: %s", exc)
    return JSONResponse(
        error_body("Unavailable", "the broker (Redis) is unavailable; try again shortly"),
        status_code=503,
    )


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        error_body("HTTPError", str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    logger.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
    return JSONResponse(
        error_body("InternalError", f"internal error (reference {incident})"), status_code=500
    )


EXCEPTION_HANDLERS = {
    TriopsError: triops_error,
    RequestValidationError: validation_error,
    OperationalError: database_unavailable,
    InterfaceError: database_unavailable,
    KombuOperationalError: broker_unavailable,
    RedisConnectionError: broker_unavailable,
    HTTPException: http_error,
    Exception: unexpected_error,
}
