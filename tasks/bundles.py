"""The worker side of `core/bundles.py`: run a bundle's jobs in turn, each as if alone.

Each job goes through its kind's `JobTask` with a request of its own (its id, this
worker): claimed, run, recorded, its transient failures retried as its own message. A
job's failure is on its row and the bundle goes on. After `HAND_BACK_AFTER_S` a timer
sends the jobs not yet started alone, so a slow job never keeps the others from idle
processes. A bundle whose process dies is delivered again: the jobs it finished are
finished (their claim refuses them), the one it was running is taken over.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Ignore, Reject, Retry, SoftTimeLimitExceeded

from core.bundles import BUNDLE_TASK, HAND_BACK_AFTER_S
from core.errors import Unavailable
from core.kinds import CATALOG
from core.submission import send

logger = logging.getLogger("triops.tasks")


class _Rest:
    """The jobs of a bundle not yet started; the bundle takes from the front, the timer
    takes the rest."""

    def __init__(self, job_ids: list[str]) -> None:
        self._pending = deque(job_ids)
        self._lock = threading.Lock()

    def next(self) -> str | None:
        with self._lock:
            return self._pending.popleft() if self._pending else None

    def take_all(self) -> list[str]:
        with self._lock:
            rest = list(self._pending)
            self._pending.clear()
            return rest

    def put_back(self, job_ids: list[str]) -> None:
        with self._lock:
            self._pending.extendleft(reversed(job_ids))


@shared_task(
    name=BUNDLE_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    typing=False,
)
def run_bundle(self: Task, *args: Any, kind: str, jobs: list[str], **_: Any) -> dict[str, int]:
    """Run the jobs of one kind in `jobs`, in turn; returns how many ran here and how
    many were handed back."""
    task = self.app.tasks[kind]
    rest = _Rest(list(jobs))
    handed: list[str] = []

    def hand_back() -> None:
        job_ids = rest.take_all()
        sent = 0
        try:
            with self.app.producer_or_acquire() as publisher:
                for job_id in job_ids:
                    send(producer=self.app, job=_Alone(job_id, kind), publisher=publisher)
                    sent += 1
        except Unavailable:
            logger.warning("bundle: could not hand back %d jobs; running them here", len(job_ids))
        handed.extend(job_ids[:sent])
        rest.put_back(job_ids[sent:])

    timer = threading.Timer(HAND_BACK_AFTER_S, hand_back)
    timer.daemon = True
    timer.start()
    ran = 0
    try:
        while (job_id := rest.next()) is not None:
            ran += 1
            try:
                _run_alone(self, task, job_id)
            except SoftTimeLimitExceeded:
                # The job's failure is recorded; the rest go to other processes now.
                timer.cancel()
                hand_back()
                break
    finally:
        timer.cancel()
    return {"ran": ran, "handed_back": len(handed)}


@dataclass(frozen=True)
class _Alone:
    """What `send` needs of a job to put its own message on its kind's queue."""

    id: str
    kind: str

    @property
    def queue(self) -> str:
        return CATALOG[self.kind].queue


def _run_alone(bundle: Task, task: Task, job_id: str) -> None:
    """Run one job of the bundle through its kind's task, with a request of its own."""
    request = bundle.request
    task.push_request(
        id=job_id,
        called_directly=False,
        is_eager=False,
        retries=0,
        hostname=request.hostname,
        delivery_info={"exchange": "", "routing_key": CATALOG[task.name].queue},
        args=[],
        kwargs={},
        chain=None,
        headers=None,
        ignore_result=True,
    )
    try:
        task()
    except (Retry, Ignore):
        pass  # re-sent as its own message (a retry), or dropped on purpose
    except (Reject, SystemExit, SoftTimeLimitExceeded):
        raise  # the bundle as a whole goes back to the broker, or the process stops
    except Exception:
        # Recorded on the job's row (and logged) by its task; the bundle goes on.
        logger.debug("bundle: job %s failed", job_id)
    finally:
        task.pop_request()
