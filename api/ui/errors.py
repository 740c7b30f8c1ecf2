"""Errors on console pages: the API's own mapping (status and message), shown as a page.

`console_handlers` wraps each of the API's exception handlers: for a path under /ui the
JSON answer becomes an HTML page with the same status and the same reason, never a
traceback; for the API nothing changes. No valid session sends the browser to the
sign-in page (a live fragment gets a bare 401, and its script reloads the page).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.responses import PlainTextResponse

from api.ui.render import PREFIX, harden, page
from api.ui.session import SignInRequired, end_session

Handler = Callable[[Request, Exception], Awaitable[Response]]

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Refused",
    413: "Too large",
    415: "Unsupported",
    422: "Refused",
    500: "Something went wrong",
    503: "Unavailable",
}


def in_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def is_fragment(request: Request) -> bool:
    return request.query_params.get("part") is not None


def reason_of(response: Response) -> str:
    """The message of the API's JSON error answer."""
    try:
        body: Any = json.loads(bytes(response.body))
    except (ValueError, TypeError):
        return "the request failed"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return "the request failed"


def error_page(request: Request, status_code: int, message: str) -> Response:
    if is_fragment(request):
        return harden(PlainTextResponse(message, status_code=status_code), request)
    return page(
        request,
        "error.html",
        {"status": status_code, "title": TITLES.get(status_code, "Error"), "message": message},
        status_code=status_code,
    )


CROSS_SITE_HOP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0">
<title>triops console</title></head>
<body><p><a href="">Continue to the triops console</a></p></body></html>"""


def _sign_in(request: Request) -> Response:
    if request.method == "GET" and request.headers.get("sec-fetch-site") == "cross-site":
        # A link from another site: the browser kept the SameSite=Strict session cookie
        # back. Reloading from here is a same-site navigation, which carries it.
        return harden(HTMLResponse(CROSS_SITE_HOP), request)
    if is_fragment(request) or request.method != "GET":
        if is_fragment(request):
            response: Response = PlainTextResponse("sign in again", status_code=401)
        else:
            response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    else:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        response = RedirectResponse(
            f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303
        )
    if request.cookies.get("triops_session"):
        end_session(response, request)
    return harden(response, request)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    return _sign_in(request)


def _wrap(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not in_console(request):
            return response
        if response.status_code == 401:
            return _sign_in(request)
        return error_page(request, response.status_code, reason_of(response))

    return handle


def console_handlers(handlers: Mapping[Any, Handler]) -> dict[Any, Handler]:
    """The API's exception handlers, answering with pages under /ui."""
    wrapped: dict[Any, Handler] = {key: _wrap(handler) for key, handler in handlers.items()}
    wrapped[SignInRequired] = sign_in_required
    return wrapped
