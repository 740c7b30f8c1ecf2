"""AIOps: alerts in, incidents, log stream templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AlertsAccepted(BaseModel):
    received: int
    new: int
    updated: int
    source: str
    correlation_job_id: str | None


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    status: str
    severity: str
    services: list[str]
    root_cause: dict[str, Any]
    alert_count: int
    started_at: datetime
    last_alert_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    created_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    type: str
    actor: str | None
    message: str | None
    data: dict[str, Any]


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    fingerprint: str
    source: str
    service: str
    severity: str
    status: str
    labels: dict[str, Any]
    message: str
    starts_at: datetime
    ends_at: datetime | None
    last_seen_at: datetime
    count: int


class IncidentDetail(IncidentOut):
    alerts: list[AlertOut]
    timeline: list[EventOut]


class IncidentPage(BaseModel):
    incidents: list[IncidentOut]
    next_cursor: str | None


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(default="api", max_length=200, description="Who acts.")
    note: str | None = Field(default=None, max_length=10_000)


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)
    by: str = Field(default="api", max_length=200)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The template's id, as in job results: E1, E2, ...")
    template: str
    count: int


class StreamTemplates(BaseModel):
    stream: str
    line_count: int
    template_count: int
    updated_at: datetime
    templates: list[TemplateOut]
