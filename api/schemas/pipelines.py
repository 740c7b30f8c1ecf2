"""Pipelines: jobs chained as steps."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.jobs import JobOut, JobSubmit


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
