"""Jobs, files, artifacts, kinds, health and the error shape: the models of the job
system itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.tables import JobStatus


class ErrorInfo(BaseModel):
    type: str = Field(description="InvalidInput, NotFound, Conflict, Unauthorized, ...")
    message: str = Field(description="What was wrong, in words.")
    details: Any = Field(
        default=None,
        description="Per-field problems of a 422 ({loc, msg, type}), or context of the error.",
    )


class ErrorBody(BaseModel):
    """Every error answer of the API has this shape."""

    error: ErrorInfo
    detail: str = Field(description="The message again, where clients look first.")


class JobSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="A kind from GET /api/v1/kinds.")
    params: dict[str, Any] = Field(default_factory=dict, description="Validated by the kind.")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Same key and body returns the existing job; same key, other body: 409.",
    )


class BatchSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSubmit] = Field(min_length=1, max_length=1000)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    queue: str
    status: JobStatus
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    progress: float
    progress_message: str | None
    attempts: int
    resends: int
    worker: str | None
    origin: str
    note: str | None
    idempotency_key: str | None
    parent_id: str | None
    pipeline_id: str | None
    step: int | None
    schedule_id: str | None
    scheduled_for: datetime | None
    created_at: datetime
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobPage(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class BatchOut(BaseModel):
    jobs: list[JobOut]
    created: list[bool]


class ArtifactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    size: int
    sha256: str
    media_type: str
    created_at: datetime
    download: str = Field(description="The API path that downloads it.")


class FileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    size: int
    sha256: str
    media_type: str
    created_at: datetime


class KindOut(BaseModel):
    kind: str
    queue: str
    description: str
    time_limit_s: float
    params_schema: dict[str, Any]


class HealthOut(BaseModel):
    status: str = Field(description="ok, degraded (a pool has no worker) or unavailable")
    database: dict[str, Any]
    broker: dict[str, Any]
    workers: dict[str, list[str]]
