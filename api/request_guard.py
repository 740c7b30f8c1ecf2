"""What is refused at the edge, before a route runs, its token is checked or (for a size)
its body is read. A pure ASGI middleware, so it sees the raw `receive` stream.

- A body over its limit is a 413: a declared `Content-Length` is refused before one byte
  is read; a chunked body is counted as it streams and refused when it passes the limit.
  Uploads (`POST /api/v1/files`) have their own, larger limit (`max_upload_bytes`).
- A JSON body is parsed once here and walked: nesting deeper than `max_json_depth` is a
  422 (deeper JSON makes the serialiser recurse until it fails), and so is any string, key
  or value, holding a NUL character or a lone surrogate (UTF-16 half `\\ud800`..`\\udfff`):
  PostgreSQL cannot store either, and a row that holds one would break every page that
  lists it. The error names the field path (`body.params.note`).
- A JSON body that is not UTF-8 is a 422 (not the framework's bare 400).
- A URL whose path or query holds a NUL is a 422 for the same reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from api.errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
UPLOAD_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart envelope around an upload's bytes."""


class BodyTooLarge(HTTPException):
    """A streamed body passed its limit while a route was reading it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


def json_problem(value: Any, *, max_depth: int) -> str | None:
    """What makes a parsed JSON document unfit to accept, or None.

    Parameters
    ----------
    value:
        The document, as `json.loads` returns it.
    max_depth:
        How many levels of objects and arrays are allowed (a scalar is depth 0,
        `{"a": 1}` depth 1).

    Returns
    -------
    A message naming the path (`body.params.rows[3]`) and the reason: nesting deeper
    than `max_depth` (named by the field that holds the deep value), or a NUL character
    or lone surrogate in a key or a string value.
    Walked with an explicit stack, so no depth makes it recurse.
    """
    # (value, its path, the path of the nearest field that holds it, depth)
    stack: list[tuple[Any, str, str, int]] = [(value, "body", "body", 0)]
    while stack:
        item, path, field, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth + 1 > max_depth:
                return f"{field}: JSON nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    where = f"{path}.{_shown(key)}"
                    if _UNSTORABLE.search(key):
                        return f"{path}: the key {_shown(key)} {_reason(key)}"
                    stack.append((child, where, where, depth + 1))
            else:
                for index, child in enumerate(item):
                    stack.append((child, f"{path}[{index}]", field, depth + 1))
        elif isinstance(item, str) and _UNSTORABLE.search(item):
            return f"{path}: {_reason(item)}"
    return None


def _reason(text: str) -> str:
    found = _UNSTORABLE.search(text)
    assert found is not None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return (
        f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid "
        "Unicode text and cannot be stored"
    )


def _shown(key: str) -> str:
    """A key as it appears in a path: readable, with unstorable characters escaped."""
    return key.encode("unicode_escape", "backslashreplace").decode("ascii")[:100]


def url_problem(path: str, query_string: bytes) -> str | None:
    """A NUL character in the path or the (percent-decoded) query, or None."""
    if "\x00" in path:
        return "the URL path contains a NUL character (%00), which cannot be stored"
    if "\x00" in unquote(query_string.decode("latin-1")):
        return "the query string contains a NUL character (%00), which cannot be stored"
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class RequestGuard:
    """Size, depth and storable-text checks on every HTTP request (see the module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        max_json_depth: int,
        upload_paths: frozenset[str],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes + UPLOAD_OVERHEAD_BYTES
        self.max_json_depth = max_json_depth
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = url_problem(scope.get("path", ""), scope.get("query_string", b""))
        if problem is not None:
            await _refuse(scope, receive, send, 422, "InvalidInput", problem)
            return
        limit = self.max_upload_bytes if scope["path"] in self.upload_paths else self.max_body_bytes
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > limit:
            await _refuse(scope, receive, send, 413, "PayloadTooLarge", _too_large(limit))
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if scope["method"] in _BODY_METHODS and _is_json(content_type):
            await self._json(scope, receive, send, limit)
            return
        await self.app(scope, _counting(receive, limit), send)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees it too
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(scope, receive, send, 413, "PayloadTooLarge", _too_large(limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = self._json_body_problem(body)
        if problem is not None:
            await _refuse(scope, receive, send, 422, "InvalidInput", problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _json_body_problem(self, body: bytes) -> str | None:
        if not body:
            return None
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"body: not valid UTF-8 (at byte offset {exc.start}); JSON must be sent as UTF-8"
        try:
            document = json.loads(body)
        except RecursionError:
            return f"body: JSON nested deeper than {self.max_json_depth} levels"
        except ValueError:
            return None  # malformed: the route's parser says where, with line and column
        return json_problem(document, max_depth=self.max_json_depth)


def _too_large(limit: int) -> str:
    return f"the request body exceeds the limit of {limit} bytes"


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, type_: str, message: str
) -> None:
    headers = {"Connection": "close"} if status == 413 else None
    response = JSONResponse(error_body(type_, message), status_code=status, headers=headers)
    await response(scope, receive, send)
