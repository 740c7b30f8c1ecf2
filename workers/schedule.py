"""The beat schedule: built-in periodic jobs. Each firing is a job like any other."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from core.config import Settings


def _every(kind: str, seconds: float, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "task": kind,
        "schedule": timedelta(seconds=seconds),
        "kwargs": {"params": params or {}},
    }


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    schedule = {
        "housekeeping": _every("system.housekeeping", settings.housekeeping_interval_s),
        "artifact-retention": _every("system.retention", settings.retention_interval_s),
        # AIOps: a sweep catches alerts that arrived while a correlation job was running.
        "alert-correlation": _every("aiops.correlate_alerts", settings.correlation_interval_s),
        "incident-auto-resolve": _every(
            "aiops.auto_resolve_incidents", settings.auto_resolve_interval_s
        ),
    }
    if settings.incident_webhook_url:
        schedule["incident-notifications"] = _every(
            "aiops.deliver_notifications", settings.notification_interval_s
        )
    if settings.aiops_scan_interval_s > 0:
        # The example periodic scan: off by default; e.g. a metric file checked hourly.
        schedule["aiops-scan"] = _every(
            settings.aiops_scan_kind, settings.aiops_scan_interval_s, settings.aiops_scan_params
        )
    for model, source in settings.drift_checks.items():
        # Off by default: name the models and the data to compare with their training data.
        schedule[f"drift-{model}"] = _every(
            "mlops.check_drift",
            settings.drift_check_interval_s,
            {"model": model, "alias": "production", **source},
        )
    for name, entry in settings.etl_schedules.items():
        schedule[f"etl-{name}"] = _etl_entry(name, entry)
    return schedule


def _etl_entry(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A scheduled ETL spec: `crontab` (five fields, UTC) or `interval_s`, and `params`."""
    params = entry.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"ETL schedule {name!r} needs params (the spec)")
    if "crontab" in entry:
        fields = str(entry["crontab"]).split()
        if len(fields) != 5:
            raise ValueError(f"ETL schedule {name!r}: crontab needs 5 fields, got {fields}")
        minute, hour, day_of_month, month_of_year, day_of_week = fields
        when: Any = crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
        )
    elif "interval_s" in entry:
        when = timedelta(seconds=float(entry["interval_s"]))
    else:
        raise ValueError(f"ETL schedule {name!r} needs crontab or interval_s")
    return {"task": "dataops.etl", "schedule": when, "kwargs": {"params": params}}
