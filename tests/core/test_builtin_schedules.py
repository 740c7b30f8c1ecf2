from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from core import schedules
from core.broker import create_celery
from core.config import Settings
from core.db import session_scope
from core.kinds import builtin_schedules, get_kind
from core.tables import Job, Schedule, utcnow
from tests.conftest import clear_tables


def _by_name(settings: Settings) -> dict[str, dict[str, object]]:
    return {str(e["name"]): e for e in builtin_schedules(settings)}


def test_the_default_schedule_runs_housekeeping_retention_correlation_and_auto_resolve(
    tmp_path: Path,
) -> None:
    schedule = _by_name(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert set(schedule) == {
        "housekeeping",
        "artifact-retention",
        "alert-correlation",
        "incident-auto-resolve",
    }


def test_webhook_delivery_and_the_example_scan_are_scheduled_only_when_configured(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_INCIDENT_WEBHOOK_URL": "http://127.0.0.1:9/hook",
            "TRIOPS_AIOPS_SCAN_INTERVAL_S": "3600",
            "TRIOPS_AIOPS_SCAN_PARAMS": '{"file_id": "00000000-0000-4000-8000-000000000000"}',
            "TRIOPS_DRIFT_CHECKS": '{"churn": {"dataset": "sklearn:breast_cancer"}}',
        }
    )
    schedule: dict[str, Any] = _by_name(settings)
    assert schedule["incident-notifications"]["kind"] == "aiops.deliver_notifications"
    assert schedule["aiops-scan"]["params"]["file_id"].startswith("0000")
    assert schedule["aiops-scan"]["interval_s"] == 3600
    assert schedule["drift-churn"]["params"] == {
        "model": "churn",
        "alias": "production",
        "dataset": "sklearn:breast_cancer",
    }


def test_every_scheduled_kind_is_in_the_catalog_with_valid_default_params(
    tmp_path: Path,
) -> None:
    for entry in builtin_schedules(Settings.from_env({"TRIOPS_HOME": str(tmp_path)})):
        get_kind(entry["kind"]).validate(entry["params"])


def test_an_etl_spec_can_be_scheduled_nightly_with_yesterdays_date(tmp_path: Path) -> None:
    spec = {
        "source": {"path": "sales/{date}.csv"},
        "parameters": {"date": "@yesterday"},
        "target": {"table": "sales", "mode": "upsert", "keys": ["day"]},
    }
    settings = Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_ETL_SCHEDULES": json.dumps(
                {"nightly-sales": {"crontab": "0 2 * * *", "params": spec}}
            ),
        }
    )
    entry: dict[str, Any] = _by_name(settings)["etl-nightly-sales"]
    assert entry["kind"] == "dataops.etl"
    assert entry["cron"] == "0 2 * * *" and entry["interval_s"] is None
    params = get_kind("dataops.etl").params_model.model_validate(entry["params"])
    assert params.resolved_source(date(2026, 3, 1)).path == "sales/2026-02-28.csv"


def test_a_malformed_etl_schedule_stops_beat_with_a_clear_error(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_ETL_SCHEDULES": json.dumps({"bad": {"crontab": "every night", "params": {}}}),
        }
    )
    with pytest.raises(ValueError, match=r"'bad'.*five fields"):
        builtin_schedules(settings)


def test_housekeeping_and_correlation_fire_past_a_job_stuck_in_its_queue(
    settings: Settings,
) -> None:
    # After a broker outage a built-in schedule's last job may sit `queued` with its
    # message gone. Housekeeping exists to repair exactly that, so neither it nor the
    # correlation schedule may skip its firings behind such a job (overlap: skip).
    clear_tables(settings)
    producer = create_celery(settings)
    start = utcnow()
    with session_scope(settings) as session:
        schedules.sync_builtins(session=session, entries=builtin_schedules(settings), now=start)
        session.commit()
    fired: dict[str, list[str]] = {}
    for name in ("housekeeping", "alert-correlation"):
        with session_scope(settings) as session:
            row = session.scalars(select(Schedule).where(Schedule.name == name)).one()
            first_due = row.next_run_at
            first = schedules.fire(
                session=session,
                producer=producer,
                schedule_id=row.id,
                due_at=first_due,
                now=first_due,
                grace_s=30,
            )
            assert first is not None
            # Its message lost: the job stays queued, untouched for ten minutes.
            stuck_since = first_due - timedelta(minutes=10)
            session.execute(update(Job).where(Job.id == first.id).values(updated_at=stuck_since))
            session.commit()
            session.expire_all()
            row = session.get(Schedule, row.id)
            assert row is not None
            second = schedules.fire(
                session=session,
                producer=producer,
                schedule_id=row.id,
                due_at=row.next_run_at,
                now=row.next_run_at,
                grace_s=30,
            )
            assert second is not None, f"{name} skipped its firing behind a stuck job"
            session.expire_all()
            refreshed = session.get(Schedule, row.id)
            assert refreshed is not None and refreshed.skipped_runs == 0
            fired[name] = [first.id, second.id]
    assert all(len(set(ids)) == 2 for ids in fired.values())
