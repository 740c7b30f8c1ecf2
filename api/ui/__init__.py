"""The triops console: server-rendered pages at /ui over the repository functions the
API uses, signed in with an API token (see `api.ui.session`). Every asset ships in this
package (templates, one stylesheet, one small script): no CDN, no build step."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.ui.errors import console_handlers
from api.ui.pages import include_pages
from api.ui.render import PREFIX, STATIC

__all__ = ["console_handlers", "install"]


def install(app: FastAPI) -> None:
    """Add the console's pages and its static files to `app`."""
    include_pages(app)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
