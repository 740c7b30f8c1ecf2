from __future__ import annotations

from pathlib import Path

from core.catalog import get_kind
from core.config import Settings
from workers.schedule import beat_schedule


def test_the_default_schedule_runs_housekeeping_retention_correlation_and_auto_resolve(
    tmp_path: Path,
) -> None:
    schedule = beat_schedule(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
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
    schedule = beat_schedule(settings)
    assert schedule["incident-notifications"]["task"] == "aiops.deliver_notifications"
    assert schedule["aiops-scan"]["kwargs"]["params"]["file_id"].startswith("0000")
    assert schedule["drift-churn"]["kwargs"]["params"] == {
        "model": "churn",
        "alias": "production",
        "dataset": "sklearn:breast_cancer",
    }


def test_every_scheduled_kind_is_in_the_catalog_with_valid_default_params(
    tmp_path: Path,
) -> None:
    for entry in beat_schedule(Settings.from_env({"TRIOPS_HOME": str(tmp_path)})).values():
        get_kind(entry["task"]).validate_params(entry["kwargs"]["params"])
