"""Beat's scheduler: each firing goes through the same submission path as the API.

The job row is written first, then the message sent, so a beat firing is listed,
tracked and retried like any submitted job.
"""

from __future__ import annotations

from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry

from core.config import get_settings
from core.db import session_scope
from core.submission import submit


class JobScheduler(PersistentScheduler):
    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        entry = self.reserve(entry) if advance else entry
        params = dict((entry.kwargs or {}).get("params", {}))
        with session_scope(get_settings()) as session:
            job, _ = submit(
                session=session,
                producer=self.app,
                kind_name=entry.task,
                params=params,
                origin=f"beat:{entry.name}",
            )
        return self.app.AsyncResult(job.id)
