"""Rows of every kind the console shows, written with the repository functions (no
workers): jobs with results shaped as the tasks write them, an incident with alerts and a
timeline, a model with versions, evaluations, deployments and a drift report, a dataset
version with lineage, a log stream, a schedule and its runs."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from core import artifacts, dataset_versions, incidents, jobs, log_streams, registry, schedules
from core.config import Settings
from core.db import session_scope
from core.kinds import get_kind
from core.schedules import ScheduleIn
from core.storage import BlobStore
from core.tables import JobStatus, Pipeline, utcnow
from domain.aiops.alerts import parse_payload
from domain.aiops.correlation import join_open_incidents

XSS = "<script>alert('x')</script>"


def png_bytes() -> bytes:
    """A 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x0b\x6e\x79")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass
class Seeded:
    jobs: dict[str, str] = field(default_factory=dict)
    incident: str = ""
    model: str = "cancer"
    dataset: str = "servers"
    stream: str = "hdfs"
    schedule: str = "nightly-canary"
    pipeline: str = ""


def finished_job(
    session: Session,
    kind: str,
    *,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    status: JobStatus = JobStatus.SUCCEEDED,
) -> str:
    declared = get_kind(kind)
    job, _ = jobs.create_job(session=session, kind=declared, params=params or {})
    session.flush()
    if status in (JobStatus.QUEUED,):
        return job.id
    now = utcnow()
    jobs.start_attempt(
        session=session,
        job_id=job.id,
        worker=f"{declared.queue}@test",
        lease=None,
        now=now,
        lease_alive=lambda _lease: False,
    )
    if status == JobStatus.RUNNING:
        jobs.set_progress(session=session, job_id=job.id, fraction=0.4, message="reading")
        return job.id
    jobs.finish_job(
        session=session, job_id=job.id, status=status, now=now, result=result, error=error
    )
    return job.id


def artifact(
    session: Session, settings: Settings, job_id: str, name: str, data: bytes, media: str
) -> dict[str, Any]:
    info = BlobStore(settings.artifacts_url).put_bytes((job_id, name), data)
    row = artifacts.upsert_artifact(
        session=session, job_id=job_id, name=name, info=info, media_type=media
    )
    return {
        "name": name,
        "size": info.size,
        "sha256": info.sha256,
        "media_type": media,
        "download": row.download,
    }


ETL_ROWS = {
    "read": 12,
    "loaded": 7,
    "quarantined": 2,
    "filtered": 2,
    "deduplicated": 1,
    "by_rule": {"check:not_null": 1, "parse": 1, "transforms[1].filter": 2},
}
CHECKS = {
    "passed": False,
    "results": [
        {
            "check": "not_null",
            "index": 0,
            "column": None,
            "severity": "error",
            "level": "row",
            "passed": False,
            "failed": 1,
            "message": "null in ['cpu']",
        }
    ],
    "failures": [
        {
            "check": "not_null",
            "column": "cpu",
            "severity": "error",
            "failure_case": None,
            "row": 4,
            "message": "null in ['cpu']",
        }
    ],
}


def seed_jobs(session: Session, settings: Settings, seeded: Seeded) -> None:
    add = seeded.jobs
    add["echo"] = finished_job(session, "system.echo", result={"payload": XSS})
    add["queued"] = finished_job(session, "system.echo", status=JobStatus.QUEUED)
    add["running"] = finished_job(session, "system.echo", status=JobStatus.RUNNING)
    add["failed"] = finished_job(
        session,
        "system.echo",
        status=JobStatus.FAILED,
        error={"type": "InvalidInput", "message": f"boom {XSS}"},
    )
    add["parse"] = finished_job(
        session,
        "aiops.parse_logs",
        params={"stream": seeded.stream, "lines": ["a"]},
        result={
            "lines": 400,
            "unmatched_lines": 0,
            "template_count": 2,
            "new_templates": ["E1", "E2"],
            "templates": [
                {
                    "id": "E1",
                    "template": "PacketResponder <NUM> terminating",
                    "count": 300,
                    "first_line": 1,
                    "last_line": 399,
                    "total_count": 300,
                },
                {
                    "id": "E2",
                    "template": "Slow write took <NUM>ms",
                    "count": 100,
                    "first_line": 3,
                    "last_line": 400,
                    "total_count": 100,
                },
            ],
            "templates_truncated": False,
            "stream": seeded.stream,
        },
    )
    add["log_anomalies"] = finished_job(
        session,
        "aiops.detect_log_anomalies",
        result={
            "lines": 1200,
            "group_by": "window",
            "rows": 30,
            "scored_rows": 15,
            "reference_rows": 15,
            "threshold": 0.0024,
            "method": "pca",
            "anomaly_count": 1,
            "anomalies": [
                {
                    "key": "2026-01-05T08:46:00Z",
                    "score": 0.43,
                    "lines": 40,
                    "first_line": 921,
                    "templates": [
                        {"id": "E5", "template": "Connection reset by peer", "share": 0.45}
                    ],
                },
            ],
        },
    )
    metric = finished_job(session, "aiops.detect_metric_anomalies", params={"points": []})
    chart = artifact(session, settings, metric, "anomalies.png", png_bytes(), "image/png")
    jobs.get_job(session=session, job_id=metric).result = {
        "method": "auto",
        "anomalies": [
            {
                "timestamp": "2026-01-07T06:00:00+00:00",
                "value": 415.9,
                "severity": 99.2,
                "expected": 162.6,
                "score": 67.1,
            }
        ],
        "windows": [
            {
                "start": "2026-01-07T06:00:00+00:00",
                "end": "2026-01-07T08:00:00+00:00",
                "max_severity": 99.3,
                "points": 3,
            }
        ],
        "points": 240,
        "sampling_s": 3600.0,
        "seasonal_periods_s": [86400.0],
        "anomaly_count": 1,
        "chart": chart,
    }
    add["metric"] = metric
    forecast = finished_job(session, "aiops.forecast_capacity")
    chart = artifact(session, settings, forecast, "forecast.png", png_bytes(), "image/png")
    jobs.get_job(session=session, job_id=forecast).result = {
        "points": [
            {"timestamp": "2026-01-15T00:00:00+00:00", "mean": 77.0, "lower": 76.2, "upper": 77.8}
        ],
        "confidence": 0.95,
        "step_s": 3600.0,
        "sampling_s": 3600.0,
        "model": "UnobservedComponents: local linear trend",
        "seasonal_periods_s": [86400.0],
        "converged": True,
        "last_timestamp": "2026-01-14T23:00:00+00:00",
        "last_value": 76.1,
        "crossing": {
            "threshold": 90.0,
            "direction": "above",
            "already_crossed": False,
            "earliest": {"timestamp": "2026-01-19T10:00:00+00:00", "seconds": 1.0},
            "expected": {"timestamp": "2026-01-20T04:00:00+00:00", "seconds": 2.0},
            "latest": {"timestamp": "2026-01-21T01:00:00+00:00", "seconds": 3.0},
        },
        "horizon_s": 604800.0,
        "threshold": 90.0,
        "chart": chart,
    }
    add["forecast"] = forecast
    etl = finished_job(
        session, "dataops.etl", params={"target": {"table": "servers", "dataset": seeded.dataset}}
    )
    quarantine = artifact(
        session,
        settings,
        etl,
        "quarantine.csv",
        b"host,cpu,_rule,_reason\nweb-4,,check,null\n",
        "text/csv",
    )
    jobs.get_job(session=session, job_id=etl).result = {
        "rows": ETL_ROWS,
        "checks": CHECKS,
        "artifacts": [quarantine],
        "target_changes": {"inserted": 7, "updated": 0, "deleted": 0},
        "table": "wh_servers",
        "dataset": {"name": seeded.dataset, "version": 1, "new": True, "rows": 7},
    }
    add["etl"] = etl
    add["etl_failed"] = finished_job(
        session,
        "dataops.etl",
        status=JobStatus.FAILED,
        error={
            "type": "InvalidInput",
            "message": "9 of 12 rows went to quarantine",
            "details": {
                "rows": {**ETL_ROWS, "loaded": 0, "quarantined": 9},
                "checks": CHECKS,
                "artifacts": [],
                "target_changes": {},
            },
        },
    )
    add["profile"] = finished_job(
        session,
        "dataops.profile",
        result={
            "rows": 3,
            "columns": 1,
            "profile": [
                {
                    "name": "cpu",
                    "dtype": "float64",
                    "nulls": 0,
                    "null_ratio": 0.0,
                    "distinct": 3,
                    "min": 1.0,
                    "max": 3.0,
                    "mean": 2.0,
                    "std": 1.0,
                    "top": [],
                }
            ],
            "broken_lines": {"count": 0, "lines": []},
        },
    )
    add["correlate"] = finished_job(
        session,
        "aiops.correlate_alerts",
        result={
            "alerts": 0,
            "incidents_opened": [],
            "incidents_joined": {},
            "incidents_escalated": [],
        },
    )


def seed_incident(session: Session, seeded: Seeded) -> None:
    now = utcnow()
    batch = parse_payload(
        {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {
                        "alertname": "HighLatency",
                        "service": "checkout",
                        "severity": "critical",
                        "note": XSS,
                    },
                    "annotations": {"summary": f"latency {XSS}"},
                    "startsAt": (now - timedelta(minutes=5)).isoformat(),
                    "endsAt": "0001-01-01T00:00:00Z",
                }
            ],
        },
        received_at=now,
    )
    incidents.ingest_alerts(session=session, alerts=batch.alerts, now=now)
    rows = incidents.pending_alerts(session=session)
    plan = join_open_incidents(
        [incidents.to_domain(r) for r in rows], incidents.open_incidents(session=session)
    )
    applied = incidents.apply_plan(
        session=session, plan=plan, rows=rows, now=now, job_id=None, notify=False
    )
    seeded.incident = applied.opened[0]


def seed_models(session: Session, seeded: Seeded) -> None:
    now = utcnow()
    name = seeded.model
    for version, accuracy in ((1, 0.95), (2, 0.97), (3, 0.5)):
        train = finished_job(
            session,
            "mlops.train",
            result={
                "model": name,
                "version": version,
                "task": "classification",
                "estimator": "logistic_regression",
                "metrics": {"accuracy": accuracy},
                "train_rows": 400,
                "test_rows": 100,
                "fit_seconds": 0.1,
            },
        )
        registry.register_version(
            session=session,
            model_name=name,
            task="classification",
            now=now,
            values={
                "job_id": train,
                "estimator": "logistic_regression",
                "params": {},
                "metrics": {"accuracy": accuracy},
                "cv": None,
                "feature_schema": [{"name": "cpu", "type": "numeric", "dtype": "float64"}],
                "classes": ["0", "1"],
                "dataset": f"dataset:{seeded.dataset}@1",
                "target": "healthy",
                "data_fingerprint": "f" * 64,
                "train_rows": 400,
                "test_rows": 100,
                "library_versions": {"python": "3.11"},
                "code_version": None,
                "artifact_url": "file:///nowhere",
                "artifact_sha256": "0" * 64,
                "artifact_size": 1,
                "reference_profile": None,
            },
        )
    checks = [
        {
            "metric": "accuracy",
            "kind": "min",
            "threshold": 0.9,
            "value": 0.95,
            "live": None,
            "passed": True,
        }
    ]
    for version, verdict in ((1, "passed"), (2, "passed"), (3, "failed")):
        evaluation = finished_job(
            session,
            "mlops.evaluate",
            result={
                "model": name,
                "version": version,
                "metrics": {"accuracy": 0.9},
                "verdict": verdict,
                "reasons": [] if verdict == "passed" else ["accuracy 0.5 < 0.9"],
                "checks": checks,
                "live_version": None,
            },
        )
        registry.record_evaluation(
            session=session,
            now=now,
            values={
                "model_name": name,
                "version": version,
                "job_id": evaluation,
                "dataset": "sklearn:breast_cancer",
                "data_fingerprint": "f" * 64,
                "metrics": {"accuracy": 0.95},
                "verdict": verdict,
                "reasons": [] if verdict == "passed" else ["accuracy 0.5 < 0.9"],
                "checks": checks,
                "compared_to": None,
                "live_version": None,
            },
        )
    for version in (1, 2):
        registry.move_alias(
            session=session,
            name=name,
            alias="production",
            to_version=version,
            action="deploy",
            actor="test",
            reason=f"v{version} {XSS}",
            job_id=None,
            now=now,
        )
    registry.record_drift(
        session=session,
        now=now,
        values={
            "model_name": name,
            "version": 2,
            "job_id": None,
            "dataset": "sklearn:breast_cancer",
            "drift": True,
            "retrain_job_id": None,
            "report": {"drifted_features": ["cpu"], "share_drifted": 1.0},
        },
    )


def seed_data(session: Session, seeded: Seeded, settings: Settings) -> None:
    now = utcnow()
    blob = BlobStore(settings.artifacts_url).put_bytes((seeded.jobs["etl"], "x.parquet"), b"PAR1")
    dataset_versions.add_version(
        session=session,
        name=seeded.dataset,
        now=now,
        values={
            "fingerprint": "a" * 64,
            "rows": 7,
            "columns": [{"name": "cpu", "dtype": "float64"}],
            "stats": {
                "rows": 7,
                "columns": 1,
                "profile": [
                    {
                        "name": "cpu",
                        "dtype": "float64",
                        "nulls": 0,
                        "null_ratio": 0.0,
                        "distinct": 7,
                        "min": 1.0,
                        "max": 9.0,
                        "mean": 4.0,
                        "top": [],
                    }
                ],
            },
            "url": blob.url,
            "sha256": blob.sha256,
            "size": blob.size,
            "job_id": seeded.jobs["etl"],
            "inputs": [{"file_id": "f-1", "name": "servers.csv", "sha256": "b" * 64}],
        },
    )
    dataset_versions.add_version(
        session=session,
        name="servers-eu",
        now=now,
        values={
            "fingerprint": "c" * 64,
            "rows": 3,
            "columns": [],
            "stats": {},
            "url": blob.url,
            "sha256": blob.sha256,
            "size": blob.size,
            "job_id": None,
            "inputs": [{"dataset": f"{seeded.dataset}@1"}],
        },
    )


def seed_logs_and_schedules(session: Session, seeded: Seeded) -> None:
    now = utcnow()
    log_streams.save_stream(
        session=session,
        name=seeded.stream,
        state={},
        template_count=2,
        line_count=400,
        templates=[(1, "PacketResponder <NUM> terminating", 300), (2, f"Slow {XSS}", 100)],
        job_id=seeded.jobs["parse"],
        result={"lines": 400, "new_templates": ["E1", "E2"]},
        now=now,
    )
    row = schedules.create(
        session=session,
        data=ScheduleIn(
            name=seeded.schedule, kind="system.echo", interval_s=3600, description=f"canary {XSS}"
        ),
        now=now,
    )
    run = jobs.get_job(session=session, job_id=finished_job(session, "system.echo"))
    run.schedule_id = row.id
    run.scheduled_for = now
    row.last_job_id = run.id
    row.last_run_at = now


def seed_pipeline(session: Session, seeded: Seeded) -> None:
    pipeline = Pipeline(name="train-then-deploy", steps=2, origin="api")
    session.add(pipeline)
    session.flush()
    for step, kind in enumerate(("system.echo", "system.echo")):
        job = jobs.get_job(session=session, job_id=finished_job(session, kind))
        job.pipeline_id, job.step = pipeline.id, step
    seeded.pipeline = pipeline.id


def seed(settings: Settings) -> Seeded:
    seeded = Seeded()
    with session_scope(settings) as session:
        seed_jobs(session, settings, seeded)
        seed_incident(session, seeded)
        seed_models(session, seeded)
        seed_data(session, seeded, settings)
        seed_logs_and_schedules(session, seeded)
        seed_pipeline(session, seeded)
    return seeded
