"""The built-in schedules: the periodic work of the families, from settings.

They live in the same `schedules` table as the ones users add (marked built-in), so they
are listed, paused and resumed the same way; their timing and params follow the settings
(beat and the API make the table match at start).
"""

from __future__ import annotations

from typing import Any

from core.config import Settings
from domain.schedules import ScheduleError, Timing, check_timing


def _every(
    name: str, kind: str, seconds: float, description: str, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "interval_s": float(seconds),
        "params": params or {},
        "description": description,
    }


def builtin_schedules(settings: Settings) -> list[dict[str, Any]]:
    entries = [
        _every(
            "housekeeping",
            "system.housekeeping",
            settings.housekeeping_interval_s,
            "re-send lost messages, fail jobs nobody runs",
        ),
        _every(
            "artifact-retention",
            "system.retention",
            settings.retention_interval_s,
            "delete artifacts of old jobs",
        ),
        # AIOps: a sweep catches alerts that arrived while a correlation job was running.
        _every(
            "alert-correlation",
            "aiops.correlate_alerts",
            settings.correlation_interval_s,
            "group new alerts into incidents",
        ),
        _every(
            "incident-auto-resolve",
            "aiops.auto_resolve_incidents",
            settings.auto_resolve_interval_s,
            "resolve incidents quiet for TRIOPS_INCIDENT_QUIET_S",
        ),
    ]
    if settings.incident_webhook_url:
        entries.append(
            _every(
                "incident-notifications",
                "aiops.deliver_notifications",
                settings.notification_interval_s,
                "deliver incident webhooks",
            )
        )
    if settings.aiops_scan_interval_s > 0:
        # The example periodic scan: off by default; e.g. a metric file checked hourly.
        entries.append(
            _every(
                "aiops-scan",
                settings.aiops_scan_kind,
                settings.aiops_scan_interval_s,
                "the configured AIOps scan",
                settings.aiops_scan_params,
            )
        )
    for model, source in settings.drift_checks.items():
        # Off by default: name the models and the data to compare with their training data.
        entries.append(
            _every(
                f"drift-{model}",
                "mlops.check_drift",
                settings.drift_check_interval_s,
                f"drift of {model}@production",
                {"model": model, "alias": "production", **source},
            )
        )
    for name, entry in settings.etl_schedules.items():
        entries.append(_etl_entry(name, entry))
    return entries


def _etl_entry(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A scheduled ETL spec: `crontab` (five fields, UTC) or `interval_s`, and `params`."""
    params = entry.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"ETL schedule {name!r} needs params (the spec)")
    if "crontab" in entry:
        timing = Timing(cron=str(entry["crontab"]))
    elif "interval_s" in entry:
        timing = Timing(interval_s=float(entry["interval_s"]))
    else:
        raise ValueError(f"ETL schedule {name!r} needs crontab or interval_s")
    try:
        check_timing(timing)
    except ScheduleError as exc:
        raise ValueError(f"ETL schedule {name!r}: {exc}") from exc
    return {
        "name": f"etl-{name}",
        "kind": "dataops.etl",
        "interval_s": timing.interval_s,
        "cron": timing.cron,
        "params": params,
        "description": f"ETL {name} from TRIOPS_ETL_SCHEDULES",
    }
