"""Repository functions for pipelines: jobs chained as steps.

Session first, keyword-only arguments; callers own the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.tables import FINISHED, Job, JobStatus, Pipeline


def get_pipeline(*, session: Session, pipeline_id: str) -> Pipeline:
    found = session.get(Pipeline, pipeline_id)
    if found is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return found


def earlier_results(*, session: Session, job_id: str, kind: str) -> list[dict[str, Any]]:
    """The results of the steps of `kind` before this job in its pipeline, latest first
    (empty when the job is not a pipeline step)."""
    me = session.get(Job, job_id)
    if me is None or me.pipeline_id is None:
        return []
    earlier = session.scalars(
        select(Job)
        .where(Job.pipeline_id == me.pipeline_id, Job.kind == kind)
        .where(Job.step < (me.step or 0))
        .order_by(Job.step.desc())
    )
    return [dict(step.result) for step in earlier if step.result]


def pipeline_steps(*, session: Session, pipeline_id: str) -> list[Job]:
    return list(
        session.scalars(select(Job).where(Job.pipeline_id == pipeline_id).order_by(Job.step))
    )


def skip_rest_of_pipeline(*, session: Session, job_id: str, now: datetime) -> list[str]:
    """After a step failed, the steps after it will never run: say so in their rows."""
    failed = session.get(Job, job_id)
    if failed is None or failed.pipeline_id is None or failed.step is None:
        return []
    skipped = []
    for later in pipeline_steps(session=session, pipeline_id=failed.pipeline_id):
        if later.step is not None and later.step > failed.step and later.status not in FINISHED:
            later.status = JobStatus.CANCELLED
            later.finished_at = now
            later.updated_at = now
            later.error = {
                "type": "Skipped",
                "message": f"step {failed.step} ({failed.kind}) failed; the pipeline stopped",
            }
            skipped.append(later.id)
    return skipped


def waits_for_earlier_step(*, session: Session, job: Job) -> bool:
    """A pipeline step's message is sent only when the step before it succeeds."""
    if job.pipeline_id is None or not job.step:
        return False
    earlier = session.scalar(
        select(Job).where(Job.pipeline_id == job.pipeline_id, Job.step == job.step - 1)
    )
    return earlier is not None and earlier.status != JobStatus.SUCCEEDED
