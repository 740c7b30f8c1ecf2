"""DataOps: datasets and their versions, with lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    dataset: str
    version: int
    fingerprint: str
    rows: int
    columns: list[Any]
    sha256: str
    size: int
    job_id: str | None
    created_at: datetime


class VersionDetail(VersionOut):
    stats: dict[str, Any]
    upstream: list[Any]
    downstream: list[str]


class DatasetOut(BaseModel):
    name: str
    latest_version: int | None
    versions: int
    created_at: datetime
    updated_at: datetime
