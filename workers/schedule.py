"""The beat schedule: built-in periodic jobs. Each firing is a job like any other."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "housekeeping": {
            "task": "system.housekeeping",
            "schedule": timedelta(seconds=settings.housekeeping_interval_s),
            "kwargs": {"params": {}},
        },
        "artifact-retention": {
            "task": "system.retention",
            "schedule": timedelta(seconds=settings.retention_interval_s),
            "kwargs": {"params": {}},
        },
    }
