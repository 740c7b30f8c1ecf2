"""The one Celery app of the workers and beat: the shared config plus the task modules."""

from __future__ import annotations

from core.broker import create_celery
from core.config import get_settings

TASK_MODULES = ("tasks.system", "tasks.aiops", "tasks.mlops", "tasks.dataops")

settings = get_settings()
app = create_celery(settings, include=TASK_MODULES)
app.conf.beat_scheduler = "workers.beat:DatabaseScheduler"
