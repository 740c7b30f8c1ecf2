"""Errors become HTTP responses here, at the edge, and nowhere else.

TriopsError subclasses carry their status code; a database or broker that cannot be
reached is a 503 with a plain message; anything unexpected is a 500 without a
traceback (the traceback goes to the log, with the request id).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from core.errors import TriopsError, Unauthorized
from core.validation import problems
from domain.errors import DomainError, StateConflict

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


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Bad input found by the domain (a payload, a schema, a timing): 422, or 409 when it
    contradicts the current state."""
    assert isinstance(exc, DomainError)
    conflict = isinstance(exc, StateConflict)
    return JSONResponse(
        error_body("Conflict" if conflict else "InvalidInput", str(exc), exc.details),
        status_code=409 if conflict else 422,
    )


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    content_type = request.headers.get("content-type", "")
    in_body = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
    if in_body and not _json_or_form(content_type):
        shown = content_type.split(";")[0].strip() or "none"
        return JSONResponse(
            error_body(
                "UnsupportedMediaType",
                f"the body must be JSON sent with Content-Type: application/json "
                f"(the request said {shown!r})",
            ),
            status_code=415,
        )
    malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if malformed is not None:
        message = _json_position(malformed, exc.body)
        return JSONResponse(error_body("InvalidInput", message), status_code=422)
    found = problems(errors)
    first = found[0] if found else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    message = f"invalid request: {where}: {first['msg']}{more}"
    return JSONResponse(error_body("InvalidInput", message, found), status_code=422)


def _json_or_form(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media.endswith("json") or media == "multipart/form-data"


def _json_position(error: Mapping[str, Any], body: object) -> str:
    """Where a JSON body stops parsing, as line and column (both from 1)."""
    loc = tuple(error.get("loc", ()))
    reason = str((error.get("ctx") or {}).get("error", "cannot be parsed"))
    doc = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if len(loc) < 2 or not isinstance(loc[1], int) or not isinstance(doc, str):
        return f"malformed JSON: {reason}"
    position = loc[1]
    line = doc.count("\n", 0, position) + 1
    column = position - (doc.rfind("\n", 0, position) + 1) + 1
    return f"malformed JSON at line {line}, column {column}: {reason}"


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
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        # The framework lists the methods of the one route it matched; a path served by
        # several routes (GET and POST /jobs) allows all of theirs.
        headers["Allow"] = ", ".join(allowed_methods(request))
    return JSONResponse(
        error_body("HTTPError", str(exc.detail)),
        status_code=exc.status_code,
        headers=headers or None,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this request's path."""
    router = request.app.router
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] == Match.FULL for route in router.routes):
            allowed.append(method)
    return allowed


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    logger.exception("unexpected error %s on %s %s", incident, request.method, request.url.path)
    return JSONResponse(
        error_body("InternalError", f"internal error (reference {incident})"), status_code=500
    )


EXCEPTION_HANDLERS = {
    TriopsError: triops_error,
    DomainError: domain_error,
    RequestValidationError: validation_error,
    OperationalError: database_unavailable,
    InterfaceError: database_unavailable,
    KombuOperationalError: broker_unavailable,
    RedisConnectionError: broker_unavailable,
    HTTPException: http_error,
    Exception: unexpected_error,
}
