"""Schedules: periodic jobs managed at runtime."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ScheduleOut(BaseModel):
    id: str
    name: str
    kind: str
    params: dict[str, Any]
    interval_s: float | None
    cron: str | None
    timezone: str
    every: str
    enabled: bool
    overlap: str
    misfire: str
    start_at: datetime | None
    end_at: datetime | None
    builtin: bool
    description: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    last_status: str | None
    missed_runs: int
    skipped_runs: int
    created_at: datetime
    updated_at: datetime


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]
