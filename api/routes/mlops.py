"""MLOps resources: the model registry, online prediction, pipelines."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ProducerDep, SessionDep, SettingsDep
from api.schemas import JobOut, JobSubmit
from core import pipelines, registry, submission
from core.errors import NotFound
from core.kinds.common import ALIAS_NAME
from core.model_store import ModelCache
from core.storage import BlobStore
from core.tables import MLModel, ModelVersion, Pipeline

router = APIRouter(tags=["mlops"])


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    model_name: str
    version: int
    job_id: str | None
    task: str
    estimator: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    cv: dict[str, Any] | None
    feature_schema: list[Any]
    classes: list[Any] | None
    dataset: str
    target: str | None
    data_fingerprint: str
    train_rows: int
    test_rows: int
    library_versions: dict[str, Any]
    code_version: str | None
    artifact_sha256: str
    artifact_size: int
    created_at: datetime


class EvaluationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: str | None
    dataset: str
    data_fingerprint: str
    metrics: dict[str, Any]
    verdict: str | None
    reasons: list[Any]
    checks: list[Any]
    compared_to: str | None
    live_version: int | None
    created_at: datetime


class DriftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    job_id: str | None
    dataset: str
    drift: bool
    retrain_job_id: str | None
    created_at: datetime
    report: dict[str, Any]


class VersionDetail(VersionOut):
    aliases: list[str]
    evaluations: list[EvaluationOut]
    lineage: dict[str, Any]


class ModelOut(BaseModel):
    name: str
    task: str
    aliases: dict[str, int]
    latest_version: int | None
    created_at: datetime
    updated_at: datetime


class DeploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    alias: str
    action: str
    from_version: int | None
    to_version: int
    job_id: str | None
    actor: str
    reason: str | None
    at: datetime


class PredictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class PredictOut(BaseModel):
    model: str
    version: int
    alias: str | None
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    latency_ms: float


class PipelineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    steps: list[JobSubmit] = Field(min_length=1, max_length=50)


class PipelineOut(BaseModel):
    id: str
    name: str | None
    status: str
    stopped_at: int | None
    reason: str | None
    created_at: datetime
    steps: list[JobOut]


def _model_out(session: SessionDep, model: MLModel) -> ModelOut:
    versions = registry.list_versions(session=session, name=model.name)
    return ModelOut(
        name=model.name,
        task=model.task,
        aliases=registry.aliases(session=session, name=model.name),
        latest_version=versions[0].version if versions else None,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


@router.get("/models", response_model=list[ModelOut])
def list_models(session: SessionDep) -> list[ModelOut]:
    """Every registered model with its aliases and latest version."""
    return [_model_out(session, m) for m in registry.list_models(session=session)]


@router.get("/models/{name}", response_model=ModelOut)
def get_model(name: str, session: SessionDep) -> ModelOut:
    """One model: task, aliases, latest version."""
    return _model_out(session, registry.get_model(session=session, name=name))


@router.get("/models/{name}/versions", response_model=list[VersionOut])
def list_versions(name: str, session: SessionDep) -> list[ModelVersion]:
    """Versions of a model, newest first."""
    return registry.list_versions(session=session, name=name)


@router.get("/models/{name}/versions/{version}", response_model=VersionDetail)
def get_version(name: str, version: int, session: SessionDep) -> VersionDetail:
    """One version: metrics, evaluations, aliases pointing at it, lineage."""
    row = registry.get_version(session=session, name=name, version=version)
    aliases = [a for a, v in registry.aliases(session=session, name=name).items() if v == version]
    return VersionDetail(
        **VersionOut.model_validate(row).model_dump(),
        aliases=sorted(aliases),
        evaluations=[
            EvaluationOut.model_validate(e)
            for e in registry.list_evaluations(session=session, name=name, version=version)
        ],
        lineage={
            "training_job": row.job_id,
            "dataset": row.dataset,
            "data_fingerprint": row.data_fingerprint,
            "code_version": row.code_version,
            "library_versions": row.library_versions,
        },
    )


@router.get("/models/{name}/deployments", response_model=list[DeploymentOut])
def deployments(name: str, session: SessionDep, alias: str | None = None) -> list[DeploymentOut]:
    """Which version each alias pointed at, when, moved by whom and why (oldest first)."""
    registry.get_model(session=session, name=name)
    return [
        DeploymentOut.model_validate(d)
        for d in registry.history(session=session, name=name, alias=alias)
    ]


@router.get("/models/{name}/drift", response_model=list[DriftOut])
def drift(name: str, session: SessionDep) -> list[DriftOut]:
    """Drift reports of a model, newest first."""
    registry.get_model(session=session, name=name)
    return [DriftOut.model_validate(d) for d in registry.drift_reports(session=session, name=name)]


_cache = ModelCache()


@router.post(
    "/models/{name}/predict",
    response_model=PredictOut,
    responses={503: {"description": "The model artifact failed its checksum"}},
)
def predict(
    name: str,
    body: PredictIn,
    session: SessionDep,
    settings: SettingsDep,
    alias: Annotated[str, Query(pattern=ALIAS_NAME)] = "production",
    version: Annotated[int | None, Query(ge=1)] = None,
) -> PredictOut:
    """Predict with the version the alias points at now (or ?version=)."""
    started = time.perf_counter()
    row = (
        registry.get_version(session=session, name=name, version=version)
        if version is not None
        else registry.resolve_alias(session=session, name=name, alias=alias)
    )
    from domain.mlops.evaluation import predict as run_predict
    from domain.mlops.schema import records_to_frame

    frame = records_to_frame(body.records, row.feature_schema)
    model = _cache.get(BlobStore(settings.artifacts_url), row.artifact_url, row.artifact_sha256)
    predictions, probabilities = run_predict(model, frame)
    return PredictOut(
        model=name,
        version=row.version,
        alias=None if version is not None else alias,
        predictions=predictions,
        probabilities=probabilities,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )


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


@router.post("/pipelines", response_model=PipelineOut, status_code=status.HTTP_202_ACCEPTED)
def create_pipeline(body: PipelineIn, session: SessionDep, producer: ProducerDep) -> PipelineOut:
    """Run steps in order as a Celery chain; a failed step (or gate) stops the rest."""
    submission.prepare_all(
        session=session, items=[(s.kind, s.params) for s in body.steps], noun="steps"
    )
    pipeline = submission.submit_pipeline(
        session=session,
        producer=producer,
        steps=[(s.kind, s.params) for s in body.steps],
        name=body.name,
    )
    return _pipeline_out(session, pipeline)


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut)
def get_pipeline(pipeline_id: str, session: SessionDep) -> PipelineOut:
    """A pipeline with its steps, and where and why it stopped."""
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return _pipeline_out(session, pipeline)
