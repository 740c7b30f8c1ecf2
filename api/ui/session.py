"""Who is signed in to the console, and the checks every form post goes through.

The session cookie holds the API token itself, with a random nonce: `nonce.token`
(base64url). It is HttpOnly (scripts cannot read it), SameSite=Strict (no other site's
page can make the browser send it), scoped to /ui, Secure when the console is served
over HTTPS, and lives 12 hours. Every request checks the token again with
`api.deps.authenticate`, so a token that stops being valid ends its sessions at once.

Every form carries a CSRF token: an HMAC of the nonce keyed with the token, so it is
per session (a new sign-in, a new nonce) and only the server and the page it rendered
know it. A post without it, or with another, is refused with 403; so is any action by a
principal that may only read (`Principal.can("submit")` false).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from api import deps
from api.deps import Principal
from api.ui.render import FLASH_COOKIE, PREFIX
from core.errors import TriopsError, Unauthorized

COOKIE = "triops_session"
SIGN_IN_COOKIE = "triops_sign_in"
MAX_AGE_S = 12 * 3600
CSRF_FIELD = "csrf"


class Forbidden(TriopsError):
    """Signed in, but not allowed to do this (or the form's CSRF token is wrong)."""

    status_code = 403


class SignInRequired(Exception):
    """No valid session: the console answers with the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in principal and the CSRF token of their session."""

    principal: Principal
    csrf: str

    @property
    def name(self) -> str:
        return self.principal.name

    def can(self, scope: str) -> bool:
        return self.principal.can(scope)


@dataclass(frozen=True)
class Action:
    """A checked form post: who acts, and the fields they sent."""

    viewer: Viewer
    form: FormData

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def session_value(token: str) -> str:
    return f"{secrets.token_urlsafe(16)}.{_b64(token)}"


def parse_session(value: str) -> tuple[str, str] | None:
    nonce, _, encoded = value.partition(".")
    if not nonce or not encoded:
        return None
    try:
        return nonce, _unb64(encoded)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def csrf_token(token: str, nonce: str) -> str:
    return hmac.new(token.encode(), f"triops-console:{nonce}".encode(), hashlib.sha256).hexdigest()


def current_viewer(request: Request) -> Viewer:
    """The signed-in viewer; SignInRequired when there is no valid session."""
    raw = request.cookies.get(COOKIE)
    parsed = parse_session(raw) if raw else None
    if parsed is None:
        raise SignInRequired
    nonce, token = parsed
    try:
        principal = deps.authenticate(request, token)
    except Unauthorized as exc:
        raise SignInRequired from exc
    viewer = Viewer(principal=principal, csrf=csrf_token(token, nonce))
    request.state.viewer = viewer
    flash = request.cookies.get(FLASH_COOKIE)
    if flash:
        request.state.flash = _read_flash(flash)
    return viewer


def check_csrf(sent: object, expected: str) -> None:
    if not isinstance(sent, str) or not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden("the form's security token is missing or wrong; reload the page and retry")


async def posted_form(request: Request) -> FormData:
    return await request.form()


async def acting(
    request: Request,
    viewer: Annotated[Viewer, Depends(current_viewer)],
    form: Annotated[FormData, Depends(posted_form)],
) -> Action:
    """A form post that changes something: a valid CSRF token and the scope to act."""
    check_csrf(form.get(CSRF_FIELD), viewer.csrf)
    if not viewer.can("submit"):
        raise Forbidden(f"{viewer.name} may read but not act (scope {viewer.principal.scope})")
    return Action(viewer=viewer, form=form)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
ActionDep = Annotated[Action, Depends(acting)]


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        session_value(token),
        max_age=MAX_AGE_S,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


def sign_in_value(request: Request) -> str:
    """The sign-in form's own CSRF value (a double-submit cookie: there is no session
    yet): the browser's, or a new one."""
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)


def keep_sign_in_value(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        value,
        max_age=3600,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def flash(response: Response, request: Request, message: str) -> None:
    """A message for the next page (after a redirect): what the action did."""
    response.set_cookie(
        FLASH_COOKIE,
        _b64(message[:500]),
        max_age=60,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _read_flash(value: str) -> str | None:
    try:
        return _unb64(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path on this site, nothing else."""
    if not value:
        return PREFIX
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or "\\" in value:
        return PREFIX
    if parts.path.startswith("//"):
        return PREFIX
    return parts.path + (f"?{parts.query}" if parts.query else "")
