"""`aiops.*` kinds: load inputs → call `domain.aiops` → save outputs and the job row."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd

from core import incidents as incident_repo
from core import log_streams
from core.errors import InvalidInput
from core.kinds.aiops import (
    AutoResolveParams,
    CorrelateAlertsParams,
    DeliverNotificationsParams,
    DetectLogAnomaliesParams,
    DetectMetricAnomaliesParams,
    ForecastCapacityParams,
    LogInput,
    ParseLogsParams,
    SeriesInput,
)
from core.tables import event_id
from domain.aiops.alerts import parse_alert
from domain.aiops.charts import anomaly_chart_png, forecast_chart_png
from domain.aiops.correlation import join_open_incidents
from domain.aiops.forecast import forecast_capacity as forecast_series
from domain.aiops.incidents import IncidentAction, auto_resolve_due
from domain.aiops.log_anomalies import DetectorConfig, LogRecord, count_by_session, count_by_window
from domain.aiops.log_anomalies import detect as detect_anomalies
from domain.aiops.logparse import LogTemplateMiner, ParseResult, parse_log
from domain.aiops.metrics import detect_anomalies as detect_metric
from domain.backoff import compute_backoff
from tasks.base import JobContext, job_task

MAX_TEMPLATES_IN_RESULT = 500
STREAM_RETRIES = 3


def read_lines(ctx: JobContext, params: LogInput) -> list[str]:
    """The log's lines; bytes that are not UTF-8 become replacement characters."""
    if params.lines is not None:
        return list(params.lines)
    assert params.file_id is not None
    with ctx.open_file(params.file_id) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=None)
        return [line.rstrip("\n") for line in text]


def _masks(params: LogInput) -> list[dict[str, str]] | None:
    return [m.model_dump() for m in params.masks] if params.masks else None


def _parse(lines: Sequence[str], params: LogInput, miner: LogTemplateMiner | None) -> ParseResult:
    return parse_log(
        lines,
        params.log_format,
        miner=miner,
        similarity_threshold=params.similarity_threshold,
        depth=params.depth,
        masks=_masks(params),
    )


def _csv_bytes(columns: Sequence[str], rows: Any) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode()


def _save_parse_artifacts(ctx: JobContext, parsed: ParseResult) -> None:
    names = parsed.column_names
    ctx.save_artifact(
        "structured.csv",
        _csv_bytes(names, zip(*(parsed.columns[n] for n in names), strict=True)),
        "text/csv",
    )
    ctx.save_artifact(
        "templates.csv",
        _csv_bytes(
            [
                "EventId",
                "EventTemplate",
                "Occurrences",
                "FirstLine",
                "LastLine",
                "TotalOccurrences",
            ],
            (
                (
                    event_id(t.template_id),
                    t.template,
                    t.count,
                    t.first_line,
                    t.last_line,
                    t.total_count,
                )
                for t in parsed.templates
            ),
        ),
        "text/csv",
    )


def _parse_summary(parsed: ParseResult, stream: str | None) -> dict[str, Any]:
    templates = sorted(parsed.templates, key=lambda t: -t.count)
    return {
        "lines": parsed.line_count,
        "unmatched_lines": parsed.unmatched_count,
        "template_count": len(parsed.templates),
        "new_templates": [event_id(i) for i in parsed.new_template_ids],
        "templates": [
            {
                "id": event_id(t.template_id),
                "template": t.template,
                "count": t.count,
                "first_line": t.first_line,
                "last_line": t.last_line,
                "total_count": t.total_count,
            }
            for t in templates[:MAX_TEMPLATES_IN_RESULT]
        ],
        "templates_truncated": len(templates) > MAX_TEMPLATES_IN_RESULT,
        "stream": stream,
    }


@job_task("aiops.parse_logs")
def parse_logs(ctx: JobContext, params: ParseLogsParams) -> dict[str, Any]:
    """Mine log templates; write structured.csv and templates.csv; extend the stream."""
    lines = read_lines(ctx, params)
    ctx.progress(0.1, f"parsing {len(lines)} lines", force=True)
    if params.stream is None:
        parsed = _parse(lines, params, None)
        _save_parse_artifacts(ctx, parsed)
        return _parse_summary(parsed, None)
    return _parse_into_stream(ctx, params, params.stream, lines)


def _parse_into_stream(
    ctx: JobContext, params: ParseLogsParams, name: str, lines: Sequence[str]
) -> dict[str, Any]:
    # Optimistic concurrency: parse against the state we read, and commit only if nobody
    # extended the stream meanwhile (its line count is the version); else parse again.
    for _ in range(STREAM_RETRIES):
        with ctx.session() as session:
            done = log_streams.job_result(session=session, name=name, job_id=ctx.job_id)
            if done is not None:  # this job already extended the stream: same answer again
                return done
            stream = log_streams.find_stream(session=session, name=name)
            version = stream.line_count if stream else None
            miner = LogTemplateMiner.from_state(stream.state) if stream else None
        parsed = _parse(lines, params, miner)
        _save_parse_artifacts(ctx, parsed)
        summary = _parse_summary(parsed, name)
        with ctx.session() as session:
            stream = log_streams.find_stream(session=session, name=name, lock=True)
            if (stream.line_count if stream else None) != version:
                continue
            log_streams.save_stream(
                session=session,
                name=name,
                state=parsed.miner.to_state(),
                template_count=parsed.miner.template_count,
                line_count=parsed.miner.lines_seen,
                templates=[(t.template_id, t.template, t.count) for t in parsed.miner.templates()],
                job_id=ctx.job_id,
                result=summary,
                now=ctx.now(),
            )
        return summary
    raise InvalidInput(f"log stream {name!r} is being extended by other jobs; try again")


def _timestamps(parsed: ParseResult, params: DetectLogAnomaliesParams) -> pd.Series:
    fields = params.timestamp_fields
    header = set(parsed.columns)
    if not fields:
        for candidate in (["Date", "Time"], ["Timestamp"], ["Time"], ["Date"]):
            if set(candidate) <= header:
                fields = candidate
                break
    if not fields:
        return pd.Series([np.nan] * parsed.line_count)
    missing = [f for f in fields if f not in header]
    if missing:
        raise InvalidInput(f"timestamp fields {missing} are not in the log format")
    joined = pd.Series(
        [" ".join(map(str, v)) for v in zip(*(parsed.columns[f] for f in fields), strict=True)]
    )
    numeric = pd.to_numeric(joined, errors="coerce")
    if params.timestamp_format is None and numeric.notna().mean() > 0.9:
        return numeric.astype(float)
    parsed_times = pd.to_datetime(joined, format=params.timestamp_format, errors="coerce", utc=True)
    seconds = (parsed_times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.astype(float)


@job_task("aiops.detect_log_anomalies")
def detect_log_anomalies(ctx: JobContext, params: DetectLogAnomaliesParams) -> dict[str, Any]:
    """Anomalous windows or sessions of a log, with the templates that drove them."""
    lines = read_lines(ctx, params)
    ctx.progress(0.1, f"mining templates of {len(lines)} lines", force=True)
    parsed = _parse(lines, params, None)
    templates = {event_id(t.template_id): t.template for t in parsed.templates}
    events = parsed.columns["EventId"]
    contents = parsed.columns["Content"]
    if params.group_by == "window":
        times = _timestamps(parsed, params)
        if times.isna().all():
            raise InvalidInput(
                "no line has a readable timestamp; set timestamp_fields and timestamp_format, "
                "or use group_by=session"
            )
        records = [
            LogRecord(event_id=e, timestamp_s=None if np.isnan(t) else float(t))
            for e, t in zip(events, times, strict=True)
        ]
        counts = count_by_window(records, window_s=params.window_s)
    else:
        records = [LogRecord(event_id=e, content=c) for e, c in zip(events, contents, strict=True)]
        counts = count_by_session(records, session_pattern=params.session_pattern)
    ctx.progress(0.6, "fitting the detector", force=True)
    result = detect_anomalies(
        counts,
        reference_fraction=params.reference_fraction,
        config=DetectorConfig(method=params.method),
        top_k=params.top_k,
    )
    anomalies = [
        {
            "key": a.key,
            "score": round(float(a.score), 6),
            "lines": len(a.lines),
            "first_line": int(a.lines[0]) + 1 if len(a.lines) else None,
            "templates": [
                {"id": event, "template": templates.get(event, ""), "share": round(share, 4)}
                for event, share in a.top_events
            ],
        }
        for a in result.anomalies
    ]
    scored = int(result.scored.sum())
    return {
        "lines": parsed.line_count,
        "group_by": params.group_by,
        "rows": len(counts),
        "scored_rows": scored,
        "reference_rows": len(counts) - scored if scored < len(counts) else len(counts),
        "threshold": round(float(result.threshold), 6),
        "method": params.method,
        "anomaly_count": len(anomalies),
        "anomalies": anomalies[:500],
    }


@job_task("aiops.correlate_alerts")
def correlate_alerts(ctx: JobContext, params: CorrelateAlertsParams) -> dict[str, Any]:
    """Fold alerts not yet in an incident into open incidents or new ones."""
    now = ctx.now()
    notify = bool(ctx.settings.incident_webhook_url)
    dependencies = params.dependencies or ctx.settings.service_dependencies or None
    with ctx.session() as session:
        if params.alerts:
            alerts = [parse_alert(a, received_at=now) for a in params.alerts]
            incident_repo.ingest_alerts(session=session, alerts=alerts, now=now)
        rows = incident_repo.pending_alerts(session=session)
        plan = join_open_incidents(
            [incident_repo.to_domain(r) for r in rows],
            incident_repo.open_incidents(session=session),
            window_s=params.window_s,
            group_by=params.group_by,
            dependencies=dependencies,
        )
        applied = incident_repo.apply_plan(
            session=session, plan=plan, rows=rows, now=now, job_id=ctx.job_id, notify=notify
        )
    return {
        "alerts": len(rows),
        "incidents_opened": applied.opened,
        "incidents_joined": applied.joined,
        "incidents_escalated": applied.escalated,
    }


@job_task("aiops.auto_resolve_incidents")
def auto_resolve_incidents(ctx: JobContext, params: AutoResolveParams) -> dict[str, Any]:
    """Resolve incidents quiet for long enough."""
    settings = ctx.settings
    quiet_s = params.quiet_s if params.quiet_s is not None else settings.incident_quiet_s
    stale_s = params.stale_s if params.stale_s is not None else settings.incident_stale_s
    now = ctx.now()
    resolved = []
    with ctx.session() as session:
        for due in auto_resolve_due(
            incident_repo.activity(session=session), now=now, quiet_s=quiet_s, stale_s=stale_s
        ):
            incident_repo.act(
                session=session,
                incident_id=due.incident_id,
                action=IncidentAction.RESOLVE,
                actor="auto-resolve",
                now=now,
                note=f"{due.reason}: no alert for {due.quiet_for_s:.0f} s",
                notify=bool(settings.incident_webhook_url),
            )
            resolved.append({"id": due.incident_id, "reason": due.reason})
    return {"resolved": resolved, "quiet_s": quiet_s, "stale_s": stale_s}


@job_task("aiops.deliver_notifications")
def deliver_notifications(ctx: JobContext, params: DeliverNotificationsParams) -> dict[str, Any]:
    """POST pending incident webhooks; failures are retried later with backoff."""
    settings = ctx.settings
    url = settings.incident_webhook_url
    if not url:
        return {"sent": 0, "failed": 0, "retrying": 0, "webhook": None}
    sent = failed = retrying = 0
    with ctx.session() as session, httpx.Client(timeout=10.0) as client:
        for notification in incident_repo.due_notifications(
            session=session, now=ctx.now(), limit=params.limit
        ):
            error: str | None = None
            try:
                response = client.post(
                    url,
                    json=notification.payload,
                    headers={
                        "Idempotency-Key": notification.id,
                        "X-Triops-Event": notification.event,
                    },
                )
                if response.status_code >= 300:
                    error = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            retry_in_s = None
            if error is not None and notification.attempts + 1 < settings.webhook_max_attempts:
                retry_in_s = compute_backoff(
                    notification.attempts + 1,
                    factor_s=settings.retry_backoff_s,
                    jitter=0.5,
                    max_backoff_s=settings.retry_max_backoff_s,
                    rand=random.random(),
                )
            incident_repo.record_delivery(
                session=session,
                notification=notification,
                now=ctx.now(),
                error=error,
                retry_in_s=retry_in_s,
            )
            session.commit()
            if error is None:
                sent += 1
            elif retry_in_s is None:
                failed += 1
            else:
                retrying += 1
    return {"sent": sent, "failed": failed, "retrying": retrying, "webhook": url}


def read_series(ctx: JobContext, params: SeriesInput) -> pd.DataFrame:
    """The series as a DataFrame with `timestamp` and `value` columns."""
    if params.points is not None:
        return pd.DataFrame(
            {
                "timestamp": [p.timestamp for p in params.points],
                "value": [p.value for p in params.points],
            }
        )
    assert params.file_id is not None
    record = ctx.file_record(params.file_id)
    with ctx.local_file(params.file_id) as path:
        try:
            frame = pd.read_csv(path, encoding_errors="replace")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"file {record.name!r} is not a readable CSV: {exc}") from exc
    missing = {"timestamp", "value"} - set(frame.columns)
    if missing:
        raise InvalidInput(
            f"file {record.name!r} needs columns timestamp,value; missing {sorted(missing)}"
        )
    return frame[["timestamp", "value"]]


@job_task("aiops.detect_metric_anomalies")
def detect_metric_anomalies(ctx: JobContext, params: DetectMetricAnomaliesParams) -> dict[str, Any]:
    """Anomalous points (severity 0-100) and windows of a metric series; a PNG chart."""
    frame = read_series(ctx, params)
    ctx.progress(0.2, f"analysing {len(frame)} points", force=True)
    options: dict[str, Any] = {"method": params.method}
    if params.threshold is not None:
        options["threshold"] = params.threshold
    found = detect_metric(frame, **options)
    ctx.progress(0.8, "drawing the chart", force=True)
    chart = ctx.save_artifact("anomalies.png", anomaly_chart_png(frame, found), "image/png")
    result = found.to_dict()
    result["anomaly_count"] = len(result["anomalies"])
    result["anomalies"] = [
        {k: a[k] for k in ("timestamp", "value", "severity", "expected", "score")}
        for a in result["anomalies"][:2000]
    ]
    result["chart"] = chart.public()
    return result


@job_task("aiops.forecast_capacity")
def forecast_capacity(ctx: JobContext, params: ForecastCapacityParams) -> dict[str, Any]:
    """Forecast with a prediction interval and the time until the threshold; a PNG chart."""
    frame = read_series(ctx, params)
    ctx.progress(0.2, f"fitting {len(frame)} points", force=True)
    times = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce").dropna()
    span_s = (times.max() - times.min()).total_seconds() if len(times) else 0.0
    horizon_s = params.horizon_s or max(86400.0, span_s / 4)
    forecast = forecast_series(
        frame,
        horizon=timedelta(seconds=horizon_s),
        confidence=params.confidence,
        threshold=params.threshold,
    )
    ctx.progress(0.8, "drawing the chart", force=True)
    chart = ctx.save_artifact(
        "forecast.png", forecast_chart_png(frame, forecast, params.threshold), "image/png"
    )
    result = forecast.to_dict()
    result["horizon_s"] = horizon_s
    result["threshold"] = params.threshold
    result["chart"] = chart.public()
    return result
