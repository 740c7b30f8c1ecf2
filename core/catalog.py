"""The job catalog: the one place mapping a kind to its queue, params, description and limits.

The API validates submissions against it and serves it at `GET /api/v1/kinds`; the
workers derive their queue routing and time limits from it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput
from core.params.aiops import (
    AutoResolveParams,
    CorrelateAlertsParams,
    DeliverNotificationsParams,
    DetectLogAnomaliesParams,
    DetectMetricAnomaliesParams,
    ForecastCapacityParams,
    ParseLogsParams,
)
from core.params.dataops import EtlParams, ProfileParams, ValidateParams
from core.params.mlops import (
    CheckDriftParams,
    DeployParams,
    EvaluateParams,
    PredictBatchParams,
    RollbackParams,
    TrainParams,
)
from core.params.system import EchoParams, HousekeepingParams, RetentionParams
from core.validation import problems

POOL_QUEUES = ("aiops", "mlops", "dataops")
"""One worker pool per queue."""

SYSTEM_QUEUE = "system"
"""Consumed by every pool, so `system.*` kinds need no worker process of their own."""


@dataclass(frozen=True)
class JobKind:
    """One kind of job: what it does, where it runs and how long it may take."""

    name: str
    queue: str
    params_model: type[BaseModel]
    description: str
    time_limit_s: float
    max_attempts: int = 3
    file_is_table: bool = False
    """The params' `file_id` names a table (CSV, JSON Lines, Parquet): a log is refused."""
    example: dict[str, Any] = field(default_factory=dict)
    """Params that are valid for this kind, shown in the OpenAPI document."""

    @property
    def soft_time_limit_s(self) -> float:
        """The task is told to stop here, leaving a margin before the hard kill."""
        return max(1.0, self.time_limit_s * 0.9)

    def validate_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Params checked and completed with defaults, as JSON-ready values."""
        try:
            model = self.params_model.model_validate(params)
        except ValidationError as exc:
            found = problems(
                exc.errors(include_url=False), model=self.params_model, prefix=["params"]
            )
            first = found[0]
            where = ".".join(str(part) for part in first["loc"])
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise InvalidInput(
                f"invalid params for {self.name}: {where}: {first['msg']}{more}", details=found
            ) from exc
        return model.model_dump(mode="json")

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "queue": self.queue,
            "description": self.description,
            "time_limit_s": self.time_limit_s,
            "params_schema": self.params_model.model_json_schema(),
        }


_KINDS = (
    JobKind(
        "system.echo",
        SYSTEM_QUEUE,
        EchoParams,
        "Canary: returns its payload (optionally after a wait, or failing on purpose).",
        time_limit_s=900,
        example={"payload": {"hello": "triops"}},
    ),
    JobKind(
        "system.housekeeping",
        SYSTEM_QUEUE,
        HousekeepingParams,
        "Re-sends or fails queued jobs whose broker message was lost; fails stale running jobs.",
        time_limit_s=300,
        max_attempts=1,
        example={"lost_after_s": 300},
    ),
    JobKind(
        "system.retention",
        SYSTEM_QUEUE,
        RetentionParams,
        "Deletes artifacts of finished jobs older than the retention period.",
        time_limit_s=1800,
        max_attempts=1,
        example={"older_than_days": 30},
    ),
    JobKind(
        "aiops.parse_logs",
        "aiops",
        ParseLogsParams,
        "Mines log templates (file or inline lines, optional stream); writes structured.csv "
        "and templates.csv.",
        time_limit_s=1800,
        example={
            "lines": [
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for "
                "block blk_38865049064139660 terminating"
            ],
            "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            "stream": "hdfs",
        },
    ),
    JobKind(
        "aiops.detect_log_anomalies",
        "aiops",
        DetectLogAnomaliesParams,
        "Finds anomalous time windows or sessions of a log from its event-count vectors.",
        time_limit_s=1800,
        example={
            "file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20",
            "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            "group_by": "window",
            "window_s": 300,
        },
    ),
    JobKind(
        "aiops.detect_metric_anomalies",
        "aiops",
        DetectMetricAnomaliesParams,
        "Flags anomalous points and windows of a metric series (trend and seasonality aware); "
        "writes a PNG chart.",
        time_limit_s=900,
        example={"file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"},
    ),
    JobKind(
        "aiops.correlate_alerts",
        "aiops",
        CorrelateAlertsParams,
        "Folds alerts not yet in an incident into open incidents or new ones, with a "
        "probable root cause and a timeline.",
        time_limit_s=600,
        example={"window_s": 600, "group_by": ["service"]},
    ),
    JobKind(
        "aiops.auto_resolve_incidents",
        "aiops",
        AutoResolveParams,
        "Resolves incidents that have been quiet long enough.",
        time_limit_s=300,
        max_attempts=1,
        example={"quiet_s": 1800},
    ),
    JobKind(
        "aiops.deliver_notifications",
        "aiops",
        DeliverNotificationsParams,
        "Delivers pending incident webhooks (retried with backoff, at least once).",
        time_limit_s=300,
        max_attempts=1,
        example={"limit": 100},
    ),
    JobKind(
        "aiops.forecast_capacity",
        "aiops",
        ForecastCapacityParams,
        "Forecasts a resource series with a prediction interval and the time until a "
        "threshold is crossed; writes a PNG chart.",
        time_limit_s=900,
        example={
            "file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20",
            "threshold": 90,
            "horizon_s": 604800,
        },
    ),
    JobKind(
        "mlops.train",
        "mlops",
        TrainParams,
        "Trains a scikit-learn pipeline (preprocessing + estimator from the allow-list) and "
        "registers a new model version with its metrics and checksummed artifact.",
        time_limit_s=3600,
        file_is_table=True,
        example={"dataset": "sklearn:breast_cancer", "model": "cancer"},
    ),
    JobKind(
        "mlops.evaluate",
        "mlops",
        EvaluateParams,
        "Scores a model version on a dataset; with thresholds, a passed/failed verdict.",
        time_limit_s=1800,
        file_is_table=True,
        example={
            "model": "cancer",
            "version": 1,
            "dataset": "sklearn:breast_cancer",
            "thresholds": {"min": {"accuracy": 0.9}},
        },
    ),
    JobKind(
        "mlops.deploy",
        "mlops",
        DeployParams,
        "Points an alias (production by default) at a version whose evaluation passed.",
        time_limit_s=120,
        example={"model": "cancer", "version": 1, "alias": "production"},
    ),
    JobKind(
        "mlops.rollback",
        "mlops",
        RollbackParams,
        "Moves an alias back to the version it held before.",
        time_limit_s=120,
        example={"model": "cancer", "alias": "production", "reason": "v2 misbehaves"},
    ),
    JobKind(
        "mlops.predict_batch",
        "mlops",
        PredictBatchParams,
        "Predicts a dataset with a model version; writes predictions.csv.",
        time_limit_s=3600,
        file_is_table=True,
        example={"model": "cancer", "dataset": "sklearn:breast_cancer"},
    ),
    JobKind(
        "mlops.check_drift",
        "mlops",
        CheckDriftParams,
        "Compares a dataset with a version's training data, feature by feature; optionally "
        "retrains on drift.",
        time_limit_s=1800,
        file_is_table=True,
        example={"model": "cancer", "dataset": "sklearn:breast_cancer"},
    ),
    JobKind(
        "dataops.profile",
        "dataops",
        ProfileParams,
        "Profiles an uploaded CSV: rows, columns, dtypes, nulls, basic statistics.",
        time_limit_s=1800,
        file_is_table=True,
        example={"file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"},
    ),
    JobKind(
        "dataops.etl",
        "dataops",
        EtlParams,
        "Extracts a file, transforms it, checks it, quarantines bad rows and loads the rest "
        "into a warehouse table and/or a dataset version.",
        time_limit_s=3600,
        example={
            "source": {"file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"},
            "transforms": [{"type": "strip", "columns": ["email"]}],
            "checks": [{"type": "not_null", "columns": ["email"]}],
            "target": {"table": "people", "mode": "upsert", "keys": ["id"]},
        },
    ),
    JobKind(
        "dataops.validate",
        "dataops",
        ValidateParams,
        "Runs an ETL spec's checks alone and returns the failure report.",
        time_limit_s=1800,
        example={
            "source": {"file_id": "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"},
            "checks": [{"type": "not_null", "columns": ["email"]}],
        },
    ),
)

CATALOG: dict[str, JobKind] = {kind.name: kind for kind in _KINDS}


def get_kind(name: str) -> JobKind:
    """The kind called `name`, or InvalidInput listing the known kinds."""
    kind = CATALOG.get(name)
    if kind is None:
        close = difflib.get_close_matches(name, CATALOG, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            f"unknown job kind {name!r}; {hint}known: {', '.join(sorted(CATALOG))}",
            details={"known_kinds": sorted(CATALOG)},
        )
    return kind


def longest_time_limit_s() -> float:
    return max(kind.time_limit_s for kind in CATALOG.values())


def task_routes() -> dict[str, dict[str, str]]:
    """Celery routing derived from the catalog: each kind to its queue."""
    return {kind.name: {"queue": kind.queue} for kind in CATALOG.values()}
