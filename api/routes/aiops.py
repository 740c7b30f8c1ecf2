"""AIOps resources: alerts in (ours or Alertmanager's), incidents, log stream templates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, status

from api.deps import ProducerDep, SessionDep, SettingsDep, require
from api.schemas.aiops import (
    Action,
    AlertOut,
    AlertsAccepted,
    EventOut,
    IncidentDetail,
    IncidentOut,
    IncidentPage,
    Note,
    StreamTemplates,
    TemplateOut,
)
from core import incidents as repo
from core import log_streams
from core.pagination import MAX_PAGE
from core.tables import Incident, utcnow
from domain.aiops.alerts import parse_payload
from domain.aiops.incidents import IncidentAction

router = APIRouter(tags=["aiops"])


@router.post(
    "/alerts",
    dependencies=[require("submit")],
    response_model=AlertsAccepted,
    status_code=status.HTTP_202_ACCEPTED,
)
def post_alerts(
    session: SessionDep,
    producer: ProducerDep,
    payload: Annotated[Any, Body(description="An Alertmanager webhook, one alert, or a list.")],
) -> AlertsAccepted:
    """Take alerts (triops' shape or Alertmanager's webhook as it is) and correlate them."""
    batch = parse_payload(payload, received_at=utcnow())
    stored = repo.ingest_alerts(session=session, alerts=batch.alerts, now=utcnow())
    session.commit()
    job_id = repo.queue_correlation(session=session, producer=producer) if batch.alerts else None
    return AlertsAccepted(
        received=stored.received,
        new=stored.new,
        updated=stored.updated,
        source=batch.source,
        correlation_job_id=job_id,
    )


@router.get("/incidents", dependencies=[require("read")], response_model=IncidentPage)
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


@router.get(
    "/incidents/{incident_id}", dependencies=[require("read")], response_model=IncidentDetail
)
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


@router.post(
    "/incidents/{incident_id}/ack", dependencies=[require("submit")], response_model=IncidentDetail
)
def acknowledge(
    incident_id: str,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[Action | None, Body()] = None,
) -> IncidentDetail:
    """Acknowledge an incident (again: no change; resolved: 409)."""
    return _act(session, settings, incident_id, IncidentAction.ACKNOWLEDGE, body)


@router.post(
    "/incidents/{incident_id}/resolve",
    dependencies=[require("submit")],
    response_model=IncidentDetail,
)
def resolve(
    incident_id: str,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[Action | None, Body()] = None,
) -> IncidentDetail:
    """Resolve an incident; resolving a resolved incident changes nothing."""
    return _act(session, settings, incident_id, IncidentAction.RESOLVE, body)


@router.post(
    "/incidents/{incident_id}/notes",
    dependencies=[require("submit")],
    response_model=EventOut,
    status_code=status.HTTP_201_CREATED,
)
def add_note(incident_id: str, body: Note, session: SessionDep) -> EventOut:
    """Add a note to an incident's timeline."""
    event = repo.add_note(
        session=session, incident_id=incident_id, text=body.text, actor=body.by, now=utcnow()
    )
    session.commit()
    return EventOut.model_validate(event)


@router.get(
    "/log-streams/{stream}/templates",
    dependencies=[require("read")],
    response_model=StreamTemplates,
)
def stream_templates(
    stream: str,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> StreamTemplates:
    """The templates a log stream has accumulated, most frequent first."""
    found = log_streams.get_stream(session=session, name=stream)
    templates = log_streams.list_templates(session=session, name=stream, limit=limit)
    return StreamTemplates(
        stream=stream,
        line_count=found.line_count,
        template_count=found.template_count,
        updated_at=found.updated_at,
        templates=[TemplateOut.model_validate(t) for t in templates],
    )
