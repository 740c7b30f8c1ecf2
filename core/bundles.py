"""Bundles: several jobs of one kind from one batch, carried by one broker message.

A worker's main process pays for every message it handles — a blocking pop, two Redis
round trips to hold and acknowledge it, a hand-off to a pool process — whatever the job
does. For a batch of short jobs that overhead is most of the cost. So a batch submit
sends, for each kind, up to `TRIOPS_BUNDLE_JOBS` of its new jobs as one message of the
task `triops.bundle` on the kind's queue; the pool process that takes it runs the jobs
one after another, each exactly as if it had come alone (claimed, run, recorded, retried
on its own — `tasks/bundles.py`).

A bundle never holds work back from idle processes for long: once it has run for
`HAND_BACK_AFTER_S`, the jobs it has not started are sent again, each as its own message,
for any free process to take. A single submit, a pipeline, and a batch's only job of a
kind travel alone, as before. Housekeeping reads the job ids inside a bundle, so a job
in a bundle is never taken for lost.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

BUNDLE_TASK = "triops.bundle"
"""The task that runs a bundle's jobs in turn."""

HAND_BACK_AFTER_S = 1.0
"""A bundle still running after this long sends the jobs it has not started alone."""


class _Queued(Protocol):
    @property
    def kind(self) -> str: ...


Q = TypeVar("Q", bound=_Queued)


def group(jobs: Sequence[Q], max_jobs: int) -> list[list[Q]]:
    """The messages for `jobs`, in submission order: each kind's jobs in runs of up to
    `max_jobs` (a kind's only job, or every job when `max_jobs` is 1, alone)."""
    by_kind: dict[str, list[Q]] = {}
    for job in jobs:
        by_kind.setdefault(job.kind, []).append(job)
    messages: list[list[Q]] = []
    for same_kind in by_kind.values():
        size = max(1, max_jobs)
        messages.extend(same_kind[i : i + size] for i in range(0, len(same_kind), size))
    return messages


def job_ids_of_message(message: dict[str, Any]) -> list[str]:
    """The job ids a broker message carries (kombu's Redis envelope): its task id, or,
    for a bundle, the ids in its arguments."""
    headers = message.get("headers") or {}
    if headers.get("task") != BUNDLE_TASK:
        task_id = headers.get("id")
        return [str(task_id)] if task_id else []
    body: Any = message.get("body", "")
    if (message.get("properties") or {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    _args, kwargs, _embed = json.loads(body)
    return [str(job_id) for job_id in kwargs.get("jobs", [])]
