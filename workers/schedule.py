"""The beat schedule: built-in periodic jobs. Each firing is a job like any other."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
    return schedule
