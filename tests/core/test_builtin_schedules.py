from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.kinds import builtin_schedules, get_kind


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
