"""Rendering the console's pages: one Jinja2 environment (autoescape on), filters for
times, sizes and numbers, and the headers every console response carries."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
PREFIX = "/ui"
FLASH_COOKIE = "triops_flash"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

STATUS_ICONS = {
    "queued": "…",
    "running": "▶",
    "retrying": "↻",
    "succeeded": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "open": "●",
    "acknowledged": "◐",
    "resolved": "✓",
    "passed": "✓",
    "no_drift": "✓",
    "drift": "⚠",
    "ok": "✓",
    "degraded": "⚠",
    "unavailable": "✗",
    "active": "▶",
    "paused": "⏸",
    "critical": "‼",
    "error": "✗",
    "warning": "⚠",
    "warn": "⚠",
    "info": "ℹ",
}


def when(value: datetime | str | None) -> Markup:
    """A time as `<time>`: UTC, to the second, with the ISO value for machines."""
    if value is None or value == "":
        return Markup('<span class="muted">—</span>')
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return escape(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    shown = value.strftime("%Y-%m-%d %H:%M:%S")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.isoformat(), ago(value), shown
    )


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return ""
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    future = seconds < 0
    text = duration(abs(seconds))
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def took(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "—"
    return duration(((end or datetime.now(UTC)) - start).total_seconds())


def size(value: int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def num(value: Any, digits: int = 4) -> str:
    """Numbers for reading: integers as they are, floats to `digits` significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f} %"


LIST_SHOWN = 20


def trimmed(value: Any, limit: int = LIST_SHOWN) -> Any:
    """`value` with every list cut to its first `limit` items (and how many more)."""
    if isinstance(value, dict):
        return {k: trimmed(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        head = [trimmed(v, limit) for v in value[:limit]]
        return [*head, f"… {len(value) - limit} more"] if len(value) > limit else head
    return value


def pretty(value: Any, limit: int | None = LIST_SHOWN) -> str:
    """JSON for reading; long lists are cut (the API returns them whole)."""
    shown = trimmed(value, limit) if limit else value
    return json.dumps(shown, indent=2, sort_keys=True, default=str)


def short(value: str | None, length: int = 8) -> str:
    return (value or "")[:length]


def segment(value: Any) -> str:
    """A value as one URL path segment."""
    return quote(str(value), safe="")


def badge(value: str | None, label: str | None = None) -> Markup:
    """A status as an icon and a word (never colour alone)."""
    if not value:
        return Markup('<span class="muted">—</span>')
    icon = STATUS_ICONS.get(value, "•")
    return Markup('<span class="badge s-{}"><span aria-hidden="true">{}</span> {}</span>').format(
        value, icon, label or value.replace("_", " ")
    )


def query(params: Mapping[str, Any], **changes: Any) -> str:
    """A query string from `params` with `changes` (None drops a key)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        ago=ago,
        duration=duration,
        size=size,
        num=num,
        pct=pct,
        pretty=pretty,
        short=short,
        segment=segment,
        badge=badge,
    )
    env.globals.update(took=took, query=query, prefix=PREFIX, badge=badge)
    return env


ENV = make_environment()
ENV.globals["ui"] = ENV.get_template("macros.html").module


def started(request: Request) -> None:
    """Dependency of every console route: when the request began (for Server-Timing)."""
    request.state.ui_started = time.perf_counter()


def harden(response: Response, request: Request | None = None) -> Response:
    """The headers of every console response: no caching, no framing, no sniffing, a
    strict CSP, and how long the server took (Server-Timing)."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("Cache-Control", "no-store")
    began = getattr(request.state, "ui_started", None) if request is not None else None
    if began is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - began) * 1000:.1f}"
    return response


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """A page (or one `block` of it, for live updates) as an HTML response."""
    values: dict[str, Any] = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "flash": getattr(request.state, "flash", None),
        "params": dict(request.query_params),
        "section": None,
        **(context or {}),
    }
    tmpl = ENV.get_template(template)
    if block is not None:
        html = "".join(tmpl.blocks[block](tmpl.new_context(values)))
    else:
        html = tmpl.render(values)
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    if values["flash"] and block is None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)  # shown once
    harden(response, request)
    return response
