"""Beat's scheduler: the schedules table, read every tick, each firing claimed once.

Celery beat is the engine (its service loop, signals and logging); this scheduler
replaces its static schedule and shelve file. Every tick (at most a second apart) it
fires what is due through `core.schedules.fire`: a conditional UPDATE claims the firing
in the transaction that writes its job row, so any number of beat processes can run
side by side and each firing happens once. Schedules created, changed, paused or deleted
through the API are seen at the next tick; no restart.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.beat import Scheduler
from sqlalchemy.exc import OperationalError

from core import schedules
from core.config import get_settings
from core.db import session_scope
from core.kinds import builtin_schedules
from core.tables import utcnow

logger = logging.getLogger("triops.beat")

TICK_S = 1.0


class DatabaseScheduler(Scheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.settings = get_settings()
        self.heartbeat = self.settings.home / "beat-heartbeat"
        self.beaten = 0.0
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        with session_scope(self.settings) as session:
            schedules.sync_builtins(
                session=session, entries=builtin_schedules(self.settings), now=utcnow()
            )
            session.commit()

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Fire what is due; returns seconds until the next tick."""
        try:
            return self._tick()
        except OperationalError as exc:
            logger.warning("schedules: database unavailable (%s); retrying", exc.__class__.__name__)
            return 2 * TICK_S

    def _tick(self) -> float:
        now = utcnow()
        with session_scope(self.settings) as session:
            due = schedules.due(session=session, now=now)
        for schedule_id, due_at in due:
            try:
                with session_scope(self.settings) as session:
                    job = schedules.fire(
                        session=session,
                        producer=self.app,
                        schedule_id=schedule_id,
                        due_at=due_at,
                        now=utcnow(),
                        grace_s=self.settings.schedule_grace_s,
                    )
            except OperationalError as exc:  # the row is held by another scheduler
                logger.info("schedule %s: not claimed now (%s)", schedule_id, exc.orig)
                continue
            except Exception:  # one bad schedule must not stop the others
                logger.exception("schedule %s: firing failed", schedule_id)
                continue
            if job is not None:
                logger.info("schedule %s fired job %s", schedule_id, job.id)
        with session_scope(self.settings) as session:
            upcoming = schedules.next_due(session=session)
        self._beat()
        if upcoming is None:
            return TICK_S
        return min(TICK_S, max(0.05, (upcoming - utcnow()).total_seconds()))

    def _beat(self) -> None:
        """Touch the heartbeat file (a container healthcheck reads its age)."""
        if time.monotonic() - self.beaten < 10:
            return
        self.heartbeat.parent.mkdir(parents=True, exist_ok=True)
        self.heartbeat.touch()
        self.beaten = time.monotonic()

    @property
    def info(self) -> str:
        return "    . schedules: the triops database (schedules table)"
