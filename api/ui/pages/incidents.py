"""Incidents: open, acknowledged, resolved; an incident with its root cause, timeline and
alerts; acknowledge, resolve, add a note (the API's own routes do each)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.routes import aiops as aiops_routes
from api.schemas.aiops import Action, Note
from api.ui.common import REFUSALS, done, refusal
from api.ui.render import PREFIX, page
from api.ui.session import ActionDep, ViewerDep
from core import incidents

router = APIRouter()

STATES = ("open", "acknowledged", "resolved")
SEVERITIES = ("critical", "error", "warning", "info")


@router.get("/incidents")
def incident_list(
    request: Request,
    viewer: ViewerDep,
    session: SessionDep,
    status: Literal["open", "acknowledged", "resolved", ""] | None = None,
    severity: Literal["critical", "error", "warning", "info", ""] | None = None,
    service: str | None = None,
    cursor: str | None = None,
    part: str | None = None,
) -> Response:
    rows, next_cursor = incidents.list_incidents(
        session=session,
        status=status or None,
        severity=severity or None,
        service=service or None,
        limit=50,
        cursor=cursor or None,
    )
    context = {
        "section": "incidents",
        "incidents": rows,
        "next_cursor": next_cursor,
        "states": STATES,
        "severities": SEVERITIES,
        "by_severity": incidents.open_by_severity(session=session),
        "live": not cursor,
    }
    return page(request, "incidents.html", context, block="rows" if part else None)


def render_incident(
    request: Request, session: Session, incident_id: str, *, status_code: int = 200, **extra: Any
) -> Response:
    incident = incidents.get_incident(session=session, incident_id=incident_id)
    context = {
        "section": "incidents",
        "incident": incident,
        "alerts": incidents.incident_alerts(session=session, incident_id=incident.id),
        "timeline": incidents.incident_events(session=session, incident_id=incident.id),
        **extra,
    }
    return page(request, "incident.html", context, status_code=status_code)


@router.get("/incidents/{incident_id}")
def incident_page(
    request: Request, incident_id: str, viewer: ViewerDep, session: SessionDep
) -> Response:
    return render_incident(request, session, incident_id)


def _refused(request: Request, session: Session, incident_id: str, exc: Exception) -> Response:
    session.rollback()
    code, message, details = refusal(exc)
    if code == 404:
        raise exc
    return render_incident(
        request,
        session,
        incident_id,
        status_code=code,
        error=message,
        error_status=code,
        error_details=details,
    )


@router.post("/incidents/{incident_id}/{move}")
def act(
    request: Request,
    incident_id: str,
    move: Literal["ack", "resolve", "notes"],
    action: ActionDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Acknowledge, resolve (each with an optional note) or add a note, as the viewer."""
    note = action.field("note") or None
    try:
        if move == "notes":
            body = Note(text=note or "", by=action.viewer.name)
            aiops_routes.add_note(incident_id, body, session)
            said = "Note added."
        elif move == "ack":
            aiops_routes.acknowledge(
                incident_id, session, settings, Action(by=action.viewer.name, note=note)
            )
            said = "Acknowledged."
        else:
            aiops_routes.resolve(
                incident_id, session, settings, Action(by=action.viewer.name, note=note)
            )
            said = "Resolved."
    except REFUSALS as exc:
        return _refused(request, session, incident_id, exc)
    return done(request, f"{PREFIX}/incidents/{incident_id}", said)
