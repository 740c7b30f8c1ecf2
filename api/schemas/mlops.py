"""MLOps: models, versions, evaluations, drift, deployments, online prediction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


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
