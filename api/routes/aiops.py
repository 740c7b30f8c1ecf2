"""AIOps resources: alerts in (ours or Alertmanager's), incidents, log stream templates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import ProducerDep, SessionDep, SettingsDep
from core import incidents as repo
from core import submission
from core.errors import NotFound
from core.pagination import MAX_PAGE
from core.tables import Incident, Job, JobStatus, LogStream, LogTemplate, utcnow
from domain.aiops.alerts import parse_payload
from domain.aiops.incidents import IncidentAction

router = APIRouter(tags=["aiops"])


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


def _ensure_correlation_job(session: SessionDep, producer: ProducerDep) -> str:
    """One correlation job waiting at a time: it takes every alert stored before it starts."""
    waiting = session.scalar(
        select(Job.id)
        .where(Job.kind == "aiops.correlate_alerts", Job.status == JobStatus.QUEUED)
        .limit(1)
    )
    if waiting is not None:
        return waiting
    job, _ = submission.submit(
        session=session,
        producer=producer,
        kind_name="aiops.correlate_alerts",
        params={},
        origin="alerts",
    )
    return job.id


@router.post("/alerts", response_model=AlertsAccepted, status_code=status.HTTP_202_ACCEPTED)
def post_alerts(
    session: SessionDep,
    producer: ProducerDep,
    payload: Annotated[Any, Body(description="An Alertmanager webhook, one alert, or a list.")],
) -> AlertsAccepted:
    """Take alerts (triops' shape or Alertmanager's webhook as it is) and correlate them."""
    batch = parse_payload(payload, received_at=utcnow())
    stored = repo.ingest_alerts(session=session, alerts=batch.alerts, now=utcnow())
    session.commit()
    job_id = _ensure_correlation_job(session, producer) if batch.alerts else None
    return AlertsAccepted(
        received=stored.received,
        new=stored.new,
        updated=stored.updated,
        source=batch.source,
        correlation_job_id=job_id,
    )


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    session: SessionDep,
    status_: Annotated[
        Literal["open", "acknowledged", "resolved"] | None, Query(alias="status")
    ] = None,
    severity: Literal["critical", "error", "warning", "info"] | None = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: str | None = None,
) -> IncidentPage:
    """Incidents, newest first, by status, severity or service."""
    rows, next_cursor = repo.list_incidents(
        session=session,
        status=status_,
        severity=severity,
        service=service,
        limit=limit,
        cursor=cursor,
    )
    return IncidentPage(
        incidents=[IncidentOut.model_validate(r) for r in rows], next_cursor=next_cursor
    )


def _detail(session: SessionDep, incident: Incident) -> IncidentDetail:
    return IncidentDetail(
        **IncidentOut.model_validate(incident).model_dump(),
        alerts=[
            AlertOut.model_validate(a)
            for a in repo.incident_alerts(session=session, incident_id=incident.id)
        ],
        timeline=[
            EventOut.model_validate(e)
            for e in repo.incident_events(session=session, incident_id=incident.id)
        ],
    )


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: str, session: SessionDep) -> IncidentDetail:
    """One incident with its alerts and timeline."""
    return _detail(session, repo.get_incident(session=session, incident_id=incident_id))


def _act(
    session: SessionDep,
    settings: SettingsDep,
    incident_id: str,
    action: IncidentAction,
    body: Action | None,
) -> IncidentDetail:
    body = body or Action()
    incident = repo.act(
        session=session,
        incident_id=incident_id,
        action=action,
        actor=body.by,
        now=utcnow(),
        note=body.note,
        notify=bool(settings.incident_webhook_url),
    )
    session.commit()
    return _detail(session, incident)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentDetail)
def acknowledge(
    incident_id: str,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[Action | None, Body()] = None,
) -> IncidentDetail:
    """Acknowledge an incident (again: no change; resolved: 409)."""
    return _act(session, settings, incident_id, IncidentAction.ACKNOWLEDGE, body)


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentDetail)
def resolve(
    incident_id: str,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[Action | None, Body()] = None,
) -> IncidentDetail:
    """Resolve an incident; resolving a resolved incident changes nothing."""
    return _act(session, settings, incident_id, IncidentAction.RESOLVE, body)


@router.post(
    "/incidents/{incident_id}/notes", response_model=EventOut, status_code=status.HTTP_201_CREATED
)
def add_note(incident_id: str, body: Note, session: SessionDep) -> EventOut:
    """Add a note to an incident's timeline."""
    event = repo.add_note(
        session=session, incident_id=incident_id, text=body.text, actor=body.by, now=utcnow()
    )
    session.commit()
    return EventOut.model_validate(event)


@router.get("/log-streams/{stream}/templates", response_model=StreamTemplates)
def stream_templates(
    stream: str,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> StreamTemplates:
    """The templates a log stream has accumulated, most frequent first."""
    found = session.get(LogStream, stream)
    if found is None:
        raise NotFound(f"log stream {stream!r} not found")
    templates = session.scalars(
        select(LogTemplate)
        .where(LogTemplate.stream == stream)
        .order_by(LogTemplate.count.desc(), LogTemplate.template_id)
        .limit(limit)
    )
    return StreamTemplates(
        stream=stream,
        line_count=found.line_count,
        template_count=found.template_count,
        updated_at=found.updated_at,
        templates=[TemplateOut.model_validate(t) for t in templates],
    )
