"""AIOps resources over HTTP against the real database (correlation runs in-process here;
tests/integration runs it on a worker)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core import incidents as repo
from core.config import Settings
from core.db import session_scope
from core.tables import AlertRecord, utcnow
from domain.aiops.correlation import join_open_incidents

NOW = datetime.now(UTC).replace(microsecond=0)


def alertmanager_payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), as it sends it."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "triops",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def am_alert(
    service: str, name: str, at: datetime, *, severity: str = "warning", **extra: Any
) -> dict[str, Any]:
    return {
        "status": extra.pop("status", "firing"),
        "labels": {"alertname": name, "service": service, "severity": severity, **extra},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": at.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": f"{service}-{name}",
    }


def correlate_now(settings: Settings) -> list[str]:
    """What the aiops.correlate_alerts task does, run here without a worker."""
    with session_scope(settings) as session:
        rows = repo.pending_alerts(session=session)
        plan = join_open_incidents(
            [repo.to_domain(r) for r in rows], repo.open_incidents(session=session)
        )
        applied = repo.apply_plan(
            session=session, plan=plan, rows=rows, now=utcnow(), job_id=None, notify=False
        )
    return applied.opened


def test_an_alertmanager_payload_is_accepted_as_it_is_and_queues_correlation(
    client: TestClient,
) -> None:
    payload = alertmanager_payload(
        am_alert("checkout", "HighLatency", NOW), am_alert("checkout", "ErrorRate", NOW)
    )
    response = client.post("/api/v1/alerts", json=payload)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["received"] == 2 and body["new"] == 2
    assert body["source"] == "alertmanager"
    job = client.get(f"/api/v1/jobs/{body['correlation_job_id']}").json()
    assert job["kind"] == "aiops.correlate_alerts" and job["status"] == "queued"
    again = client.post("/api/v1/alerts", json=payload).json()
    assert again["new"] == 0 and again["updated"] == 2
    assert again["correlation_job_id"] == body["correlation_job_id"]


def test_a_payload_that_is_not_an_alert_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/alerts", json={"hello": "world"})
    assert response.status_code == 422
    assert client.post("/api/v1/alerts", json=[{"starts_at": "yesterday"}]).status_code == 422


def test_an_unknown_severity_is_422_listing_the_accepted_values_and_stores_nothing(
    client: TestClient, settings: Settings
) -> None:
    own = client.post("/api/v1/alerts", json={"service": "x", "severity": "urgent"})
    assert own.status_code == 422, own.text
    message = own.json()["error"]["message"]
    assert "unknown severity 'urgent'" in message
    assert "critical, error, warning, info" in message and "high" in message
    manager = client.post(
        "/api/v1/alerts",
        json=alertmanager_payload(am_alert("x", "Boom", NOW, severity="urgent")),
    )
    assert manager.status_code == 422
    assert "alerts[0].labels.severity" in manager.json()["error"]["message"]
    with session_scope(settings) as session:
        assert session.scalar(select(func.count()).select_from(AlertRecord)) == 0


def test_an_alert_without_a_message_still_makes_a_readable_incident_title(
    client: TestClient, settings: Settings
) -> None:
    accepted = client.post("/api/v1/alerts", json={"service": "x", "severity": "crit"})
    assert accepted.status_code == 202, accepted.text
    [incident_id] = correlate_now(settings)
    detail = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert detail["title"] == "x: critical alert" and detail["severity"] == "critical"


def test_correlated_alerts_become_an_incident_that_can_be_acked_noted_and_resolved(
    client: TestClient, settings: Settings
) -> None:
    client.post(
        "/api/v1/alerts",
        json=alertmanager_payload(
            am_alert("checkout", "HighLatency", NOW, severity="warning"),
            am_alert("checkout", "ErrorRate", NOW + timedelta(seconds=30), severity="critical"),
        ),
    )
    [incident_id] = correlate_now(settings)
    page = client.get("/api/v1/incidents", params={"status": "open"}).json()
    assert [i["id"] for i in page["incidents"]] == [incident_id]
    detail = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert detail["severity"] == "critical"
    assert detail["alert_count"] == 2 and len(detail["alerts"]) == 2
    assert detail["root_cause"]["service"] == "checkout"
    assert detail["timeline"][0]["type"] == "opened"

    acked = client.post(f"/api/v1/incidents/{incident_id}/ack", json={"by": "alice"}).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"] == "alice"
    note = client.post(f"/api/v1/incidents/{incident_id}/notes", json={"text": "rolling back"})
    assert note.status_code == 201
    resolved = client.post(f"/api/v1/incidents/{incident_id}/resolve").json()
    assert resolved["status"] == "resolved"
    again = client.post(f"/api/v1/incidents/{incident_id}/resolve")
    assert again.status_code == 200 and again.json()["resolved_at"] == resolved["resolved_at"]
    types = [e["type"] for e in again.json()["timeline"]]
    assert types.count("resolved") == 1 and "note" in types and "acknowledged" in types
    assert client.post(f"/api/v1/incidents/{incident_id}/ack").status_code == 409


def test_new_alerts_for_an_open_incident_join_it(client: TestClient, settings: Settings) -> None:
    client.post("/api/v1/alerts", json=alertmanager_payload(am_alert("db", "DiskFull", NOW)))
    [incident_id] = correlate_now(settings)
    client.post(
        "/api/v1/alerts",
        json=alertmanager_payload(
            am_alert("db", "SlowQueries", NOW + timedelta(seconds=60), severity="critical")
        ),
    )
    assert correlate_now(settings) == []
    detail = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert detail["alert_count"] == 2 and detail["severity"] == "critical"
    assert "escalated" in [e["type"] for e in detail["timeline"]]


def test_incident_filters_and_unknown_ids(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/nope").status_code == 404
    assert client.post("/api/v1/incidents/nope/resolve").status_code == 404
    assert client.post("/api/v1/incidents/nope/notes", json={"text": "x"}).status_code == 404
    assert client.get("/api/v1/incidents", params={"status": "sleeping"}).status_code == 422
    assert client.get("/api/v1/log-streams/none/templates").status_code == 404


def test_an_invalid_regex_in_masks_or_log_format_is_422_naming_it(client: TestClient) -> None:
    bad_mask = client.post(
        "/api/v1/jobs",
        json={
            "kind": "aiops.parse_logs",
            "params": {"lines": ["a"], "masks": [{"name": "x", "regex": "(unclosed"}]},
        },
    )
    assert bad_mask.status_code == 422
    assert "mask is not a valid regex" in str(bad_mask.json()["error"]["details"])
    bad_format = client.post(
        "/api/v1/jobs",
        json={
            "kind": "aiops.parse_logs",
            "params": {"lines": ["a"], "log_format": "<Date> ([<Content>"},
        },
    )
    assert bad_format.status_code == 422
    assert bad_format.json()["error"]["details"][0]["loc"] == ["params", "log_format"]


def test_a_series_with_too_few_points_is_422_at_submit(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={
            "kind": "aiops.detect_metric_anomalies",
            "params": {"points": [{"timestamp": "2026-01-01T00:00:00Z", "value": 1}]},
        },
    )
    assert response.status_code == 422
    assert "at least" in str(response.json()["error"]["details"])


def test_the_api_process_does_not_load_the_heavy_libraries() -> None:
    # The API enqueues by name; pandas and scikit-learn belong to the workers.
    # Other tests in this process import them, so check in a fresh interpreter.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, api.main; print([m for m in ('pandas','sklearn','matplotlib','scipy')"
            " if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
