"""The console's routes, one module per area, all under /ui."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from api.ui.pages import auth, data, incidents, jobs, logs, models, overview, schedules
from api.ui.render import PREFIX, started

MODULES = (auth, overview, jobs, incidents, logs, models, data, schedules)


def include_pages(app: FastAPI) -> None:
    for module in MODULES:
        app.include_router(
            module.router, prefix=PREFIX, dependencies=[Depends(started)], include_in_schema=False
        )
