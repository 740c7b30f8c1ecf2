"""What the console's pages share: refusals shown on the page, redirects after an
action, live-part headers, dependencies."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.ui.render import harden
from api.ui.session import flash
from core.errors import TriopsError
from domain.errors import DomainError, StateConflict

REFUSALS = (TriopsError, DomainError, ValidationError)


def refusal(exc: Exception) -> tuple[int, str, Any]:
    """What the API would answer for `exc`: status, reason, details."""
    if isinstance(exc, TriopsError):
        return exc.status_code, exc.message, exc.details
    if isinstance(exc, DomainError):
        return (409 if isinstance(exc, StateConflict) else 422), str(exc), exc.details
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        return 422, f"invalid input: {problems}", None
    raise exc


def done(request: Request, location: str, message: str) -> RedirectResponse:
    """After an action: back to a page (303, so a reload does not post again), with a
    message saying what happened."""
    response = RedirectResponse(location, status_code=303)
    flash(response, request, message)
    harden(response, request)
    return response


LIVE_DONE = {"X-Live-Done": "1"}
