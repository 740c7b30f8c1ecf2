"""Pipelines: jobs of any family chained as steps (train → evaluate → deploy, backfills)."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import ProducerDep, SessionDep, require
from api.schemas.jobs import JobOut
from api.schemas.pipelines import PipelineIn, PipelineOut
from core import pipelines, submission
from core.tables import Pipeline

router = APIRouter(tags=["pipelines"])


def _pipeline_out(session: SessionDep, pipeline: Pipeline) -> PipelineOut:
    steps = pipelines.pipeline_steps(session=session, pipeline_id=pipeline.id)
    statuses = [s.status for s in steps]
    failed = next((s for s in steps if s.status == "failed"), None)
    if failed is not None:
        state = "failed"
    elif all(s == "succeeded" for s in statuses):
        state = "succeeded"
    elif any(s == "cancelled" for s in statuses):
        state = "cancelled"
    elif any(s in ("running", "retrying") for s in statuses) or "succeeded" in statuses:
        state = "running"
    else:
        state = "queued"
    return PipelineOut(
        id=pipeline.id,
        name=pipeline.name,
        status=state,
        stopped_at=failed.step if failed else None,
        reason=(failed.error or {}).get("message") if failed else None,
        created_at=pipeline.created_at,
        steps=[JobOut.model_validate(s) for s in steps],
    )


@router.post(
    "/pipelines",
    dependencies=[require("submit")],
    response_model=PipelineOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def create_pipeline(body: PipelineIn, session: SessionDep, producer: ProducerDep) -> PipelineOut:
    """Run steps in order as a Celery chain; a failed step (or gate) stops the rest."""
    pipeline = submission.submit_pipeline(
        session=session,
        producer=producer,
        steps=[(s.kind, s.params) for s in body.steps],
        name=body.name,
    )
    return _pipeline_out(session, pipeline)


@router.get("/pipelines/{pipeline_id}", dependencies=[require("read")], response_model=PipelineOut)
def get_pipeline(pipeline_id: str, session: SessionDep) -> PipelineOut:
    """A pipeline with its steps, and where and why it stopped."""
    return _pipeline_out(session, pipelines.get_pipeline(session=session, pipeline_id=pipeline_id))
