"""Repository of alerts, incidents, their timeline and webhook notifications.

Alerts are stored as they arrive (deduplicated by fingerprint and start); a correlation
job folds the ones not yet in an incident into open incidents or new ones, in one
transaction, so a rerun finds nothing left to fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core import jobs, submission
from core.errors import InvalidInput, NotFound
from core.kinds.aiops import CORRELATE_ALERTS
from core.pagination import fetch_page
from core.submission import Producer
from core.tables import AlertRecord, Incident, IncidentEvent, Notification, new_id
from domain.aiops.alerts import Alert, dedupe, is_repeat
from domain.aiops.correlation import AlertGroup, JoinPlan, OpenIncident
from domain.aiops.incidents import (
    IncidentAction,
    IncidentActivity,
    escalation,
    transition,
)

OPEN_STATES = ("open", "acknowledged")


# --- alerts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    received: int
    new: int
    updated: int


def to_domain(row: AlertRecord) -> Alert:
    return Alert(
        source=row.source,
        service=row.service,
        severity=row.severity,
        labels=dict(row.labels),
        starts_at=row.starts_at,
        message=row.message,
        fingerprint=row.fingerprint,
        status=row.status,
        ends_at=row.ends_at,
        annotations=dict(row.annotations),
        generator_url=row.generator_url,
        last_seen_at=row.last_seen_at,
        count=row.count,
    )


def ingest_alerts(*, session: Session, alerts: Sequence[Alert], now: datetime) -> Ingested:
    """Store alerts; a repeat of a stored occurrence updates it instead of adding a row."""
    merged = dedupe(alerts)
    fingerprints = sorted({a.fingerprint for a in merged})
    latest: dict[str, AlertRecord] = {}
    for chunk in _chunks(fingerprints, 500):
        for stored in session.scalars(
            select(AlertRecord)
            .where(AlertRecord.fingerprint.in_(chunk))
            .order_by(AlertRecord.starts_at)
        ):
            latest[stored.fingerprint] = stored  # ordered by start: the last one wins
    new_rows: list[dict[str, Any]] = []
    previous: dict[str, Alert] = {fp: to_domain(row) for fp, row in latest.items()}
    updated = 0
    for alert in merged:
        prev = previous.get(alert.fingerprint)
        if prev is not None and is_repeat(prev, alert):
            row = latest.get(alert.fingerprint)
            if row is not None and row.starts_at == prev.starts_at:
                _merge_into(session, row, alert, now)
                updated += 1
                continue
        new_rows.append(_new_alert_row(alert, now))
        previous[alert.fingerprint] = alert
    if new_rows:
        session.execute(insert(AlertRecord), new_rows)
    session.flush()
    return Ingested(received=len(alerts), new=len(new_rows), updated=updated)


def _new_alert_row(alert: Alert, now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(),
        "fingerprint": alert.fingerprint,
        "source": alert.source,
        "service": alert.service,
        "severity": alert.severity,
        "status": alert.status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "message": alert.message,
        "generator_url": alert.generator_url,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "last_seen_at": alert.last_seen_at or alert.starts_at,
        "count": alert.count,
        "incident_id": None,
        "received_at": now,
    }


def _merge_into(session: Session, row: AlertRecord, alert: Alert, now: datetime) -> None:
    """A repeat of a stored occurrence: count it and take its latest state."""
    row.count += alert.count
    row.status = alert.status
    row.ends_at = alert.ends_at
    row.severity = alert.severity
    row.message = alert.message
    row.last_seen_at = max(row.last_seen_at, alert.last_seen_at or alert.starts_at)
    row.received_at = now
    if row.incident_id is not None:
        _touch_incident(session, row.incident_id, row, now)


def _touch_incident(session: Session, incident_id: str, row: AlertRecord, now: datetime) -> None:
    incident = session.get(Incident, incident_id)
    if incident is not None and incident.status in OPEN_STATES:
        incident.last_alert_at = max(incident.last_alert_at, row.last_seen_at)


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def pending_alerts(*, session: Session, limit: int = 100_000) -> list[AlertRecord]:
    """Alerts not yet in an incident, oldest first."""
    return list(
        session.scalars(
            select(AlertRecord)
            .where(AlertRecord.incident_id.is_(None))
            .order_by(AlertRecord.starts_at, AlertRecord.id)
            .limit(limit)
        )
    )


def open_incidents(*, session: Session) -> list[OpenIncident]:
    incidents = list(session.scalars(select(Incident).where(Incident.status.in_(OPEN_STATES))))
    fingerprints: dict[str, set[str]] = {i.id: set() for i in incidents}
    if incidents:
        rows = session.execute(
            select(AlertRecord.incident_id, AlertRecord.fingerprint).where(
                AlertRecord.incident_id.in_(list(fingerprints))
            )
        )
        for incident_id, fingerprint in rows:
            if incident_id is not None:
                fingerprints[incident_id].add(fingerprint)
    return [
        OpenIncident(
            incident_id=i.id,
            keys=frozenset(i.keys),
            last_seen_at=i.last_alert_at,
            fingerprints=frozenset(fingerprints[i.id]),
        )
        for i in incidents
    ]


# --- correlation ----------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    opened: list[str]
    joined: dict[str, int]
    escalated: list[str]


def _event(
    incident_id: str,
    at: datetime,
    type_: str,
    message: str | None = None,
    *,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": at,
        "type": type_,
        "actor": actor,
        "message": message,
        "data": data or {},
    }


def _alert_ref(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "service": alert.service,
        "severity": alert.severity,
        "status": alert.status,
        "starts_at": alert.starts_at.isoformat(),
    }


def apply_plan(
    *,
    session: Session,
    plan: JoinPlan,
    rows: Sequence[AlertRecord],
    now: datetime,
    job_id: str | None,
    notify: bool,
) -> Applied:
    """Write a correlation plan: new incidents, joined alerts, escalations, timeline, webhooks."""
    by_key = {(r.fingerprint, r.starts_at): r.id for r in rows}
    events: list[dict[str, Any]] = []
    opened: list[str] = []
    escalated: list[str] = []
    joined: dict[str, int] = {}
    assignments: list[dict[str, Any]] = []
    new_incidents: list[Incident] = []

    # Written in bulk: a storm of 10,000 alerts is thousands of incidents in one job.
    for group in plan.new_groups:
        incident = _open_incident(group, now=now, job_id=job_id)
        new_incidents.append(incident)
        opened.append(incident.id)
        assignments.extend(
            {"id": by_key[(a.fingerprint, a.starts_at)], "incident_id": incident.id}
            for a in group.alerts
        )
        events.append(
            _event(
                incident.id,
                group.started_at,
                "opened",
                incident.title,
                data={"root_cause": incident.root_cause},
            )
        )
        events.extend(
            _event(
                incident.id,
                item.at,
                f"alert_{item.kind}",
                item.message,
                data={
                    "fingerprint": item.fingerprint,
                    "service": item.service,
                    "severity": item.severity,
                },
            )
            for item in group.timeline
        )
    if new_incidents:
        session.execute(insert(Incident), [_columns(i) for i in new_incidents])
        if notify:
            session.execute(
                insert(Notification),
                [_columns(_notification(i, "open", now)) for i in new_incidents],
            )

    for incident_id, alerts in plan.joins.items():
        target = session.get(Incident, incident_id)
        if target is None:
            continue
        incident = target
        for alert in alerts:
            assignments.append(
                {"id": by_key[(alert.fingerprint, alert.starts_at)], "incident_id": incident_id}
            )
            events.append(
                _event(
                    incident_id,
                    alert.starts_at,
                    "alert_joined",
                    alert.message,
                    data=_alert_ref(alert),
                )
            )
        joined[incident_id] = len(alerts)
        incident.alert_count += len(alerts)
        latest = max((a.last_seen_at or a.starts_at) for a in alerts)
        incident.last_alert_at = max(incident.last_alert_at, latest)
        incident.services = sorted(set(incident.services) | {a.service for a in alerts})
        change = escalation(incident.severity, [a.severity for a in alerts], state=incident.status)
        if change.escalated:
            incident.severity = change.severity
            escalated.append(incident_id)
            events.append(
                _event(
                    incident_id,
                    now,
                    "escalated",
                    f"severity {change.previous} → {change.severity}",
                    data={"from": change.previous, "to": change.severity},
                )
            )
            if notify:
                session.add(_notification(incident, "escalate", now))
    session.flush()
    if assignments:
        session.execute(update(AlertRecord), assignments)  # bulk UPDATE by primary key
    if events:
        session.execute(insert(IncidentEvent), events)
    session.expire_all()
    return Applied(opened=opened, joined=joined, escalated=escalated)


def _columns(obj: Incident | Notification) -> dict[str, Any]:
    """The column values of a new ORM object, for a bulk INSERT."""
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def _open_incident(group: AlertGroup, *, now: datetime, job_id: str | None) -> Incident:
    root = group.root_cause
    title = f"{root.service or 'unknown service'}: {root.message}"[:500]
    return Incident(
        id=new_id(),
        title=title,
        status="open",
        severity=group.severity,
        services=list(group.services),
        keys=sorted(group.keys),
        root_cause={
            "service": root.service,
            "fingerprint": root.fingerprint,
            "message": root.message,
            "severity": root.severity,
            "starts_at": root.starts_at.isoformat(),
            "reason": group.root_cause_reason,
        },
        alert_count=len(group.alerts),
        started_at=group.started_at,
        last_alert_at=group.last_seen_at,
        job_id=job_id,
        created_at=now,
        updated_at=now,
        acknowledged_at=None,
        acknowledged_by=None,
        resolved_at=None,
        resolved_by=None,
    )


def _notification(incident: Incident, event: str, now: datetime) -> Notification:
    return Notification(
        id=new_id(),
        incident_id=incident.id,
        event=event,
        payload={
            "event": event,
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "status": incident.status,
                "severity": incident.severity,
                "services": incident.services,
                "root_cause": incident.root_cause,
                "alert_count": incident.alert_count,
                "started_at": incident.started_at.isoformat(),
            },
            "sent_for": now.isoformat(),
        },
        next_attempt_at=now,
        created_at=now,
        status="pending",
        attempts=0,
        last_error=None,
        sent_at=None,
    )


# --- incident reads and lifecycle -----------------------------------------------------


def get_incident(*, session: Session, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    return incident


def incident_alerts(*, session: Session, incident_id: str, limit: int = 500) -> list[AlertRecord]:
    return list(
        session.scalars(
            select(AlertRecord)
            .where(AlertRecord.incident_id == incident_id)
            .order_by(AlertRecord.starts_at)
            .limit(limit)
        )
    )


def incident_events(
    *, session: Session, incident_id: str, limit: int = 1000
) -> list[IncidentEvent]:
    return list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
            .limit(limit)
        )
    )


def list_incidents(
    *,
    session: Session,
    status: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Incident], str | None]:
    query = select(Incident)
    if status:
        if status not in ("open", "acknowledged", "resolved"):
            raise InvalidInput(f"unknown status {status!r}")
        query = query.where(Incident.status == status)
    if severity:
        query = query.where(Incident.severity == severity)
    if service:
        matching = select(AlertRecord.incident_id).where(AlertRecord.service == service)
        query = query.where(Incident.id.in_(matching))
    return fetch_page(session, query, cursor, Incident.created_at, Incident.id, limit)


def open_by_severity(*, session: Session) -> dict[str, int]:
    """How many incidents are open or acknowledged, by severity."""
    rows = session.execute(
        select(Incident.severity, func.count())
        .where(Incident.status.in_(OPEN_STATES))
        .group_by(Incident.severity)
    )
    return {severity: int(count) for severity, count in rows}


def act(
    *,
    session: Session,
    incident_id: str,
    action: IncidentAction,
    actor: str,
    now: datetime,
    note: str | None = None,
    notify: bool,
) -> Incident:
    """Acknowledge or resolve; doing it again is a no-op, an impossible move a Conflict."""
    incident = get_incident(session=session, incident_id=incident_id)
    step = transition(incident.status, action)
    if not step.changed:
        return incident
    incident.status = step.state.value
    incident.updated_at = now
    if action == IncidentAction.ACKNOWLEDGE:
        incident.acknowledged_at, incident.acknowledged_by = now, actor
        kind = "acknowledged"
    else:
        incident.resolved_at, incident.resolved_by = now, actor
        kind = "resolved"
        if notify:
            session.add(_notification(incident, "resolve", now))
    session.add(IncidentEvent(**_event(incident.id, now, kind, note, actor=actor)))
    session.flush()
    return incident


def add_note(
    *, session: Session, incident_id: str, text: str, actor: str, now: datetime
) -> IncidentEvent:
    get_incident(session=session, incident_id=incident_id)
    event = IncidentEvent(**_event(incident_id, now, "note", text, actor=actor))
    session.add(event)
    session.flush()
    return event


def activity(*, session: Session) -> list[IncidentActivity]:
    """Open incidents with their firing-alert counts, for the auto-resolve rule."""
    firing = (
        select(AlertRecord.incident_id, func.count().label("n"))
        .where(AlertRecord.status == "firing")
        .group_by(AlertRecord.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(Incident.id, Incident.status, Incident.last_alert_at, firing.c.n)
        .outerjoin(firing, firing.c.incident_id == Incident.id)
        .where(Incident.status.in_(OPEN_STATES))
    )
    return [
        IncidentActivity(incident_id=i, state=s, last_alert_at=last, firing_alerts=int(n or 0))
        for i, s, last, n in rows
    ]


# --- notifications --------------------------------------------------------------------


def due_notifications(*, session: Session, now: datetime, limit: int = 100) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.status == "pending", Notification.next_attempt_at <= now)
            .order_by(Notification.created_at)
            .limit(limit)
        )
    )


def record_delivery(
    *,
    session: Session,
    notification: Notification,
    now: datetime,
    error: str | None,
    retry_in_s: float | None,
) -> None:
    """Mark a delivery done, or schedule the next try, or give up (retry_in_s None)."""
    notification.attempts += 1
    if error is None:
        notification.status = "sent"
        notification.sent_at = now
        notification.last_error = None
        kind, message = "notified", f"webhook {notification.event} delivered"
    elif retry_in_s is not None:
        notification.last_error = error[:2000]
        notification.next_attempt_at = now + timedelta(seconds=retry_in_s)
        return
    else:
        notification.status = "failed"
        notification.last_error = error[:2000]
        kind, message = "notify_failed", f"webhook {notification.event} gave up: {error[:200]}"
    session.add(
        IncidentEvent(**_event(notification.incident_id, now, kind, message, actor="triops"))
    )


def queue_correlation(*, session: Session, producer: Producer) -> str:
    """The id of a correlation job that will take the alerts stored so far: the one
    already waiting, else a new one (one waiting at a time is enough: it takes every
    alert stored before it starts)."""
    waiting = jobs.queued_job_of_kind(session=session, kind=CORRELATE_ALERTS.name)
    if waiting is not None:
        return waiting
    job, _ = submission.submit(
        session=session,
        producer=producer,
        kind_name=CORRELATE_ALERTS.name,
        params={},
        origin="alerts",
    )
    return job.id
