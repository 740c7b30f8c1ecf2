"""Signing in with an API token, and out."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api import deps
from api.ui.render import PREFIX, harden, page
from api.ui.session import (
    CSRF_FIELD,
    SIGN_IN_COOKIE,
    SignInRequired,
    ViewerDep,
    check_csrf,
    current_viewer,
    end_session,
    keep_sign_in_value,
    posted_form,
    safe_next,
    sign_in_value,
    start_session,
)
from core.errors import Unauthorized

router = APIRouter()


def _form(
    request: Request,
    *,
    error: str | None = None,
    status_code: int = 200,
    nxt: str | None = None,
) -> Response:
    value = sign_in_value(request)
    nxt = safe_next(nxt or request.query_params.get("next"))
    response = page(
        request,
        "sign_in.html",
        {"sign_in_error": error, "next": nxt, "csrf": value},
        status_code=status_code,
    )
    keep_sign_in_value(response, request, value)
    return response


@router.get("/sign-in")
def sign_in_page(request: Request) -> Response:
    try:
        current_viewer(request)
    except SignInRequired:
        return _form(request)
    return harden(RedirectResponse(safe_next(request.query_params.get("next")), 303), request)


@router.post("/sign-in")
def sign_in(request: Request, form: Annotated[FormData, Depends(posted_form)]) -> Response:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = form.get(CSRF_FIELD)
    nxt = form.get("next")
    nxt = nxt if isinstance(nxt, str) else None
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        return _form(
            request,
            error="The sign-in form expired or came from elsewhere; please try again.",
            status_code=403,
            nxt=nxt,
        )
    token = form.get("token")
    token = token.strip() if isinstance(token, str) else ""
    try:
        if not token:
            raise Unauthorized("no token given")
        deps.authenticate(request, token)
    except Unauthorized:
        return _form(request, error="That token is not valid.", status_code=401, nxt=nxt)
    response = RedirectResponse(safe_next(nxt), 303)
    start_session(response, request, token)
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    return harden(response, request)


@router.post("/sign-out")
def sign_out(
    request: Request, viewer: ViewerDep, form: Annotated[FormData, Depends(posted_form)]
) -> Response:
    check_csrf(form.get(CSRF_FIELD), viewer.csrf)
    response = RedirectResponse(f"{PREFIX}/sign-in", 303)
    end_session(response, request)
    return harden(response, request)
