"""The `aiops.*` kinds: log templates and anomalies, metric anomalies, forecasts, alert
correlation, incident auto-resolve and notifications.

Regexes a user sends (log format, masks, session key) are compiled here, at submit, so
an invalid one is a 422 naming it rather than a failed job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.config import Settings
from core.kinds.common import AN_UPLOAD, NAME_RULE, FileId, Params, every
from core.kinds.kind import JobKind
from core.validation import human_pattern
from domain.aiops.logparse import DEFAULT_SIMILARITY_THRESHOLD
from domain.user_regex import check_user_regex

StreamName = Field(
    default=None,
    pattern=human_pattern(
        r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$",
        "{input} is not a stream name: " + NAME_RULE + ", up to 200",
    ),
    description="A log stream: successive jobs on the same stream extend one template set.",
)

MAX_INLINE_LINES = 100_000
MAX_INLINE_POINTS = 200_000
MIN_POINTS = 8


def _check_regex(value: str, what: str) -> str:
    return check_user_regex(value, what)


class Mask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=human_pattern(
            r"^[A-Za-z][A-Za-z0-9_]{0,39}$",
            "{input} is not a placeholder name: letters, digits and '_', starting with a "
            "letter, up to 40",
        ),
        description="Placeholder name.",
    )
    regex: str = Field(max_length=2000)

    @field_validator("regex")
    @classmethod
    def _valid(cls, value: str) -> str:
        return _check_regex(value, "mask")


class LogInput(Params):
    """A log given as an upload or inline lines, with how to read it."""

    file_id: FileId | None = Field(default=None, description="An uploaded log file.")
    lines: list[str] | None = Field(
        default=None, max_length=MAX_INLINE_LINES, description="Inline log lines."
    )
    log_format: str | None = Field(
        default=None,
        max_length=2000,
        description="Loghub-style header format with <Field> placeholders (regex allowed "
        "between them), e.g. '<Date> <Time> <Level> <Component>: <Content>'.",
    )
    masks: list[Mask] | None = Field(
        default=None, description="Extra masks (name + regex) applied before mining."
    )
    similarity_threshold: float = Field(default=DEFAULT_SIMILARITY_THRESHOLD, gt=0, le=1)
    depth: int = Field(default=4, ge=3, le=10)

    @model_validator(mode="after")
    def _one_source(self) -> LogInput:
        if (self.file_id is None) == (self.lines is None):
            raise ValueError("give exactly one of file_id or lines")
        return self

    @field_validator("log_format")
    @classmethod
    def _valid_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from domain.aiops.logparse_format import compile_log_format

        compile_log_format(value)
        return value


class ParseLogsParams(LogInput):
    stream: str | None = StreamName


class DetectLogAnomaliesParams(LogInput):
    group_by: Literal["window", "session"] = Field(
        default="window", description="Count events per time window or per session."
    )
    window_s: float = Field(default=3600, gt=0, description="Window length, in seconds.")
    timestamp_fields: list[str] | None = Field(
        default=None,
        description="Header fields that make the timestamp, joined by a space "
        "(default: Date+Time, Timestamp or Time, whichever the format has).",
    )
    timestamp_format: str | None = Field(
        default=None, max_length=100, description="strftime format of the joined fields."
    )
    session_pattern: str = Field(
        default=r"blk_-?\d+", max_length=1000, description="Regex of the session key."
    )
    reference_fraction: float = Field(
        default=0.5, gt=0, lt=1, description="Leading share of windows/sessions to fit on."
    )
    method: Literal["pca", "isolation_forest"] = "pca"
    top_k: int = Field(default=5, ge=1, le=50, description="Templates reported per anomaly.")

    @field_validator("session_pattern")
    @classmethod
    def _valid_session(cls, value: str) -> str:
        return _check_regex(value, "session_pattern")


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: str = Field(description="ISO 8601 time.")
    value: float


class SeriesInput(Params):
    file_id: FileId | None = Field(
        default=None, description="An uploaded CSV with columns timestamp,value."
    )
    points: list[Point] | None = Field(
        default=None, max_length=MAX_INLINE_POINTS, description="Inline points."
    )

    @model_validator(mode="after")
    def _one_source(self) -> SeriesInput:
        if (self.file_id is None) == (self.points is None):
            raise ValueError("give exactly one of file_id or points")
        if self.points is not None and len(self.points) < MIN_POINTS:
            raise ValueError(f"a series needs at least {MIN_POINTS} points")
        return self


class DetectMetricAnomaliesParams(SeriesInput):
    method: Literal["auto", "robust", "isolation_forest"] = Field(
        default="auto",
        description="auto: the seasons the series shows (autocorrelation), then seasonal "
        "decomposition + median/MAD of residuals; robust: the same with every season the "
        "series is long enough for; isolation_forest: scikit-learn IsolationForest on value "
        "and residual features.",
    )
    threshold: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="auto/robust: |z| in robust sigmas a point must exceed (default 6; "
        "higher flags less).",
    )


class ForecastCapacityParams(SeriesInput):
    threshold: float | None = Field(
        default=None, description="Capacity limit, in the series' unit (e.g. 90 for 90 %)."
    )
    horizon_s: float | None = Field(
        default=None,
        gt=0,
        description="How far ahead, in seconds (default: a quarter of "
        "the history, at least a day).",
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class CorrelateAlertsParams(Params):
    alerts: list[dict[str, Any]] | None = Field(
        default=None,
        max_length=100_000,
        description="Alerts to ingest first (our shape); stored alerts not yet in an "
        "incident are always included.",
    )
    window_s: float = Field(default=300, gt=0, le=86400)
    group_by: list[str] = Field(
        default_factory=lambda: ["service", "cluster"], min_length=1, max_length=10
    )
    dependencies: dict[str, list[str]] | None = Field(
        default=None,
        description="Service dependency graph: {service: [services it depends on]} "
        "(default: TRIOPS_SERVICE_DEPENDENCIES).",
    )


class AutoResolveParams(Params):
    quiet_s: float | None = Field(
        default=None,
        ge=0,
        description="Resolve incidents whose alerts all resolved and that "
        "were quiet this long (default: TRIOPS_INCIDENT_QUIET_S).",
    )
    stale_s: float | None = Field(
        default=None,
        ge=0,
        description="Resolve incidents with no alert this long even if "
        "some never resolved (default: TRIOPS_INCIDENT_STALE_S).",
    )


class DeliverNotificationsParams(Params):
    limit: int = Field(default=100, ge=1, le=1000)


HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"

PARSE_LOGS = JobKind(
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
        "log_format": HDFS_FORMAT,
        "stream": "hdfs",
    },
)
DETECT_LOG_ANOMALIES = JobKind(
    "aiops.detect_log_anomalies",
    "aiops",
    DetectLogAnomaliesParams,
    "Finds anomalous time windows or sessions of a log from its event-count vectors.",
    time_limit_s=1800,
    example={
        "file_id": AN_UPLOAD,
        "log_format": HDFS_FORMAT,
        "group_by": "window",
        "window_s": 300,
    },
)
DETECT_METRIC_ANOMALIES = JobKind(
    "aiops.detect_metric_anomalies",
    "aiops",
    DetectMetricAnomaliesParams,
    "Flags anomalous points and windows of a metric series (trend and seasonality aware); "
    "writes a PNG chart.",
    time_limit_s=900,
    example={"file_id": AN_UPLOAD},
)
CORRELATE_ALERTS = JobKind(
    "aiops.correlate_alerts",
    "aiops",
    CorrelateAlertsParams,
    "Folds alerts not yet in an incident into open incidents or new ones, with a "
    "probable root cause and a timeline.",
    time_limit_s=600,
    example={"window_s": 600, "group_by": ["service"]},
)
AUTO_RESOLVE_INCIDENTS = JobKind(
    "aiops.auto_resolve_incidents",
    "aiops",
    AutoResolveParams,
    "Resolves incidents that have been quiet long enough.",
    time_limit_s=300,
    max_attempts=1,
    example={"quiet_s": 1800},
)
DELIVER_NOTIFICATIONS = JobKind(
    "aiops.deliver_notifications",
    "aiops",
    DeliverNotificationsParams,
    "Delivers pending incident webhooks (retried with backoff, at least once).",
    time_limit_s=300,
    max_attempts=1,
    example={"limit": 100},
)
FORECAST_CAPACITY = JobKind(
    "aiops.forecast_capacity",
    "aiops",
    ForecastCapacityParams,
    "Forecasts a resource series with a prediction interval and the time until a "
    "threshold is crossed; writes a PNG chart.",
    time_limit_s=900,
    example={"file_id": AN_UPLOAD, "threshold": 90, "horizon_s": 604800},
)

KINDS = (
    PARSE_LOGS,
    DETECT_LOG_ANOMALIES,
    DETECT_METRIC_ANOMALIES,
    CORRELATE_ALERTS,
    AUTO_RESOLVE_INCIDENTS,
    DELIVER_NOTIFICATIONS,
    FORECAST_CAPACITY,
)


def schedules(settings: Settings) -> list[dict[str, Any]]:
    entries = [
        # A sweep catches alerts that arrived while a correlation job was running.
        every(
            "alert-correlation",
            CORRELATE_ALERTS,
            settings.correlation_interval_s,
            "group new alerts into incidents",
        ),
        every(
            "incident-auto-resolve",
            AUTO_RESOLVE_INCIDENTS,
            settings.auto_resolve_interval_s,
            "resolve incidents quiet for TRIOPS_INCIDENT_QUIET_S",
        ),
    ]
    if settings.incident_webhook_url:
        entries.append(
            every(
                "incident-notifications",
                DELIVER_NOTIFICATIONS,
                settings.notification_interval_s,
                "deliver incident webhooks",
            )
        )
    if settings.aiops_scan_interval_s > 0:
        # The example periodic scan: off by default; e.g. a metric file checked hourly.
        entry = every(
            "aiops-scan",
            DETECT_METRIC_ANOMALIES,
            settings.aiops_scan_interval_s,
            "the configured AIOps scan",
            settings.aiops_scan_params,
        )
        entry["kind"] = settings.aiops_scan_kind or DETECT_METRIC_ANOMALIES.name
        entries.append(entry)
    return entries
