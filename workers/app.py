"""The one Celery app of the workers and beat: the shared config plus the task modules of
every kind in the catalog (the families' and those of `TRIOPS_PLUGINS`)."""

from __future__ import annotations

from core.broker import create_celery
from core.config import get_settings
from core.kinds import load_plugins, task_modules
from workers import (
    observability,  # noqa: F401 - our logging replaces Celery's setup
    revokes,  # noqa: F401 - records revokes sent through Celery control
)
from workers.liveness import Heartbeat

settings = get_settings()
load_plugins(settings)
app = create_celery(settings, include=task_modules())
app.conf.beat_scheduler = "workers.beat:DatabaseScheduler"
app.steps["consumer"].add(Heartbeat)
