"""Schedules through the API on the real database and Redis, and the firing logic beat
runs — claimed once however many schedulers try, overlap and misfire policies — driven
here with explicit times."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from core import schedules
from core.broker import create_celery
from core.config import Settings
from core.db import session_scope
from core.kinds import builtin_schedules
from core.tables import Job, JobStatus, Schedule


def _builtins(settings: Settings) -> None:
    """What beat does at start: the built-in schedules, from the settings."""
    with session_scope(settings) as session:
        schedules.sync_builtins(
            session=session, entries=builtin_schedules(settings), now=datetime.now(UTC)
        )
        session.commit()


def _create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/schedules", json={"name": "scan", "kind": "system.echo", **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_schedule_is_created_listed_changed_paused_resumed_and_deleted(
    client: TestClient, settings: Settings
) -> None:
    _builtins(settings)
    created = _create(client, interval_s=300, params={"payload": "hi"})
    assert created["every"] == "every 5 min" and created["enabled"] is True
    assert created["next_run_at"] is not None and created["last_status"] is None
    listed = client.get("/api/v1/schedules").json()["schedules"]
    names = {s["name"]: s for s in listed}
    assert "scan" in names and names["housekeeping"]["builtin"] is True
    by_name = client.get("/api/v1/schedules/scan").json()
    assert by_name["id"] == created["id"]

    changed = client.patch(
        f"/api/v1/schedules/{created['id']}", json={"cron": "0 2 * * *", "timezone": "Europe/Paris"}
    ).json()
    assert changed["cron"] == "0 2 * * *" and changed["interval_s"] is None
    assert changed["every"] == "cron '0 2 * * *' (Europe/Paris)"
    assert changed["next_run_at"][11:16] in ("00:00", "01:00")  # 02:00 Paris in UTC

    paused = client.post("/api/v1/schedules/scan/pause").json()
    assert paused["enabled"] is False and paused["next_run_at"] is None
    resumed = client.post("/api/v1/schedules/scan/resume").json()
    assert resumed["enabled"] is True and resumed["next_run_at"] is not None

    assert client.delete("/api/v1/schedules/scan").status_code == 204
    assert client.get("/api/v1/schedules/scan").status_code == 404
    assert client.post("/api/v1/schedules/scan/pause").status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"cron": "61 * * * *"}, "does not parse"),
        ({"cron": "every night"}, "five fields"),
        ({"interval_s": 0}, "greater than 0"),
        ({"interval_s": -5}, "greater than 0"),
        ({"interval_s": 1e12}, "interval_s"),
        ({"interval_s": 60, "cron": "* * * * *"}, "exactly one"),
        ({}, "exactly one"),
        ({"interval_s": 60, "timezone": "Mars/Olympus"}, "IANA"),
        ({"interval_s": 60, "kind": "system.nope"}, "system.echo"),  # lists known kinds
        ({"interval_s": 60, "params": {"sleep_s": "long"}}, "sleep_s"),
        ({"interval_s": 60, "params": {"surprise": 1}}, "surprise"),
    ],
)
def test_bad_schedules_are_422_naming_the_problem(
    client: TestClient, body: dict[str, Any], needle: str
) -> None:
    response = client.post("/api/v1/schedules", json={"name": "bad", "kind": "system.echo", **body})
    assert response.status_code == 422, response.text
    assert needle in response.text


def test_names_are_unique_and_builtins_can_be_paused_but_not_changed(
    client: TestClient, settings: Settings
) -> None:
    _builtins(settings)
    _create(client, interval_s=60)
    again = client.post(
        "/api/v1/schedules", json={"name": "scan", "kind": "system.echo", "interval_s": 60}
    )
    assert again.status_code == 409
    assert client.patch("/api/v1/schedules/housekeeping", json={"interval_s": 5}).status_code == 409
    assert client.delete("/api/v1/schedules/housekeeping").status_code == 409
    paused = client.post("/api/v1/schedules/housekeeping/pause")
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    assert client.post("/api/v1/schedules/housekeeping/resume").json()["enabled"] is True


def test_run_now_submits_a_linked_job_and_runs_lists_it(client: TestClient) -> None:
    created = _create(client, interval_s=3600, enabled=False)
    job = client.post("/api/v1/schedules/scan/run-now")
    assert job.status_code == 202
    body = job.json()
    assert body["schedule_id"] == created["id"] and body["origin"] == "schedule:scan"
    runs = client.get("/api/v1/schedules/scan/runs").json()["jobs"]
    assert [r["id"] for r in runs] == [body["id"]]
    shown = client.get("/api/v1/schedules/scan").json()
    assert shown["last_job_id"] == body["id"] and shown["last_status"] == "queued"
    assert shown["next_run_at"] is None  # still paused: run-now does not change the timing


def _due(settings: Settings, name: str) -> tuple[str, datetime]:
    with session_scope(settings) as session:
        row = session.query(Schedule).filter_by(name=name).one()
        assert row.next_run_at is not None
        return row.id, row.next_run_at


def _fire(settings: Settings, schedule_id: str, due_at: datetime, now: datetime) -> Job | None:
    with session_scope(settings) as session:
        return schedules.fire(
            session=session,
            producer=create_celery(settings),
            schedule_id=schedule_id,
            due_at=due_at,
            now=now,
            grace_s=30,
        )


def test_a_due_firing_is_claimed_once_however_many_schedulers_try(
    client: TestClient, settings: Settings
) -> None:
    _create(client, interval_s=60)
    schedule_id, due_at = _due(settings, "scan")
    now = due_at + timedelta(seconds=1)
    fired = [_fire(settings, schedule_id, due_at, now) for _ in range(3)]
    assert sum(job is not None for job in fired) == 1
    runs = client.get("/api/v1/schedules/scan/runs").json()["jobs"]
    assert len(runs) == 1 and runs[0]["scheduled_for"] is not None
    _, next_due = _due(settings, "scan")
    assert next_due == due_at + timedelta(seconds=60)


def test_overlap_skip_waits_for_the_previous_run_and_allow_does_not(
    client: TestClient, settings: Settings
) -> None:
    _create(client, interval_s=60, overlap="skip")
    schedule_id, due_at = _due(settings, "scan")
    assert _fire(settings, schedule_id, due_at, due_at) is not None  # queued, unfinished
    second_id, second_due = _due(settings, "scan")
    assert _fire(settings, second_id, second_due, second_due) is None
    skipped = client.get("/api/v1/schedules/scan").json()
    assert skipped["skipped_runs"] == 1
    client.patch("/api/v1/schedules/scan", json={"overlap": "allow"})
    third_id, third_due = _due(settings, "scan")
    assert _fire(settings, third_id, third_due, third_due) is not None


@pytest.mark.parametrize(("misfire", "fires"), [("once", True), ("skip", False)])
def test_after_downtime_misfire_runs_once_or_skips_and_counts_the_missed(
    client: TestClient, settings: Settings, misfire: str, fires: bool
) -> None:
    _create(client, interval_s=60, misfire=misfire)
    schedule_id, due_at = _due(settings, "scan")
    now = due_at + timedelta(minutes=10, seconds=5)  # beat was down for ten minutes
    job = _fire(settings, schedule_id, due_at, now)
    assert (job is not None) is fires
    shown = client.get("/api/v1/schedules/scan").json()
    assert shown["missed_runs"] == (10 if fires else 11)
    assert datetime.fromisoformat(shown["next_run_at"]) > now  # no burst of catch-up runs


def test_a_run_whose_params_the_kind_no_longer_takes_is_a_failed_run(
    client: TestClient, settings: Settings
) -> None:
    _create(client, interval_s=60)
    with session_scope(settings) as session:
        row = session.query(Schedule).filter_by(name="scan").one()
        row.params = {"sleep_s": "not a number"}
        session.commit()
    schedule_id, due_at = _due(settings, "scan")
    job = _fire(settings, schedule_id, due_at, due_at)
    assert job is not None and job.status == JobStatus.FAILED
    assert client.get("/api/v1/schedules/scan").json()["last_status"] == "failed"
    assert _due(settings, "scan")[1] > due_at  # it keeps its clock


def test_a_schedule_of_a_kind_no_longer_in_the_catalog_is_skipped_not_fatal(
    client: TestClient, settings: Settings
) -> None:
    _create(client, interval_s=60)
    with session_scope(settings) as session:
        session.query(Schedule).filter_by(name="scan").one().kind = "system.retired"
        session.commit()
    schedule_id, due_at = _due(settings, "scan")
    assert _fire(settings, schedule_id, due_at, due_at) is None
    with session_scope(settings) as session:
        row = session.query(Schedule).filter_by(name="scan").one()
        assert row.skipped_runs == 1 and row.next_run_at is not None
        assert row.next_run_at > due_at


def test_builtins_follow_the_settings(settings: Settings) -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    entry = {"name": "b-test", "kind": "system.echo", "interval_s": 60.0, "params": {}}
    with session_scope(settings) as session:
        session.query(Schedule).delete()
        schedules.sync_builtins(session=session, entries=[entry], now=now)
        session.commit()
        schedules.get(session=session, ref="b-test").enabled = False
        session.commit()
        schedules.sync_builtins(session=session, entries=[{**entry, "interval_s": 120.0}], now=now)
        session.commit()
        row = schedules.get(session=session, ref="b-test")
        assert (row.interval_s, row.enabled, row.builtin) == (120.0, False, True)
        schedules.sync_builtins(session=session, entries=[], now=now)
        session.commit()
        assert not session.query(Schedule).filter_by(name="b-test").count()


def test_a_row_held_by_another_scheduler_is_not_waited_on_for_long(
    client: TestClient, settings: Settings
) -> None:
    if settings.uses_sqlite:
        pytest.skip("row locks and lock_timeout are PostgreSQL's")
    _create(client, interval_s=60)
    schedule_id, due_at = _due(settings, "scan")
    with session_scope(settings) as holder:
        # Another scheduler mid-claim: the row is locked by its open transaction.
        holder.execute(select(Schedule).where(Schedule.id == schedule_id).with_for_update()).all()
        started = time.monotonic()
        with pytest.raises(OperationalError, match="lock timeout"):
            _fire(settings, schedule_id, due_at, due_at)
        assert time.monotonic() - started < 10
        holder.rollback()
    assert _fire(settings, schedule_id, due_at, due_at) is not None  # free again: fired once
