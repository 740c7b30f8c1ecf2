"""The sample scenario of `triops up --demo`: one job per pool through the HTTP API."""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.config import Settings
from core.kinds import POOL_QUEUES
from core.kinds.aiops import (
    DETECT_LOG_ANOMALIES,
    DETECT_METRIC_ANOMALIES,
    FORECAST_CAPACITY,
    HDFS_FORMAT,
    PARSE_LOGS,
)
from core.kinds.dataops import ETL, PROFILE
from core.kinds.mlops import CHECK_DRIFT, DEPLOY, EVALUATE, TRAIN
from core.kinds.system import ECHO
from workers.client import ApiError, TriopsClient


def sample_log(path: Path, *, lines: int = 400, seed: int = 7, burst: range | None = None) -> Path:
    """A small HDFS-style log with a handful of templates and varying values; lines in
    `burst` are mostly errors and slow writes (an incident to find)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    shapes = [
        (
            "INFO",
            "dfs.DataNode$PacketResponder",
            "PacketResponder {n} for block blk_{b} terminating",
        ),
        (
            "INFO",
            "dfs.DataNode$DataXceiver",
            "Receiving block blk_{b} src: /{ip}:{port} dest: /{ip2}:50010",
        ),
        (
            "INFO",
            "dfs.FSNamesystem",
            "BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:50010 "
            "is added to blk_{b} size {size}",
        ),
        (
            "WARN",
            "dfs.DataNode",
            "Slow BlockReceiver write packet to mirror took {ms}ms (threshold=300ms)",
        ),
        (
            "ERROR",
            "dfs.DataNode$DataXceiver",
            "{ip}:50010:DataXceiver: java.io.IOException: Connection reset by peer",
        ),
    ]
    with open(path, "w") as out:
        for i in range(lines):
            weights = [5, 5, 5, 40, 45] if burst is not None and i in burst else [30, 30, 30, 7, 3]
            level, component, text = shapes[rng.choices(range(5), weights=weights)[0]]
            ts = start + timedelta(seconds=i * 3)
            message = text.format(
                n=rng.randint(0, 2),
                b=rng.randint(10**17, 10**18),
                ip=f"10.250.{rng.randint(0, 20)}.{rng.randint(1, 254)}",
                ip2=f"10.251.{rng.randint(0, 20)}.{rng.randint(1, 254)}",
                port=rng.randint(30000, 60000),
                size=rng.randint(1000, 67108864),
                ms=rng.randint(300, 5000),
            )
            out.write(
                f"{ts:%y%m%d} {ts:%H%M%S} {rng.randint(100, 999)} {level} {component}: {message}\n"
            )
    return path


def sample_csv(path: Path, *, rows: int = 500, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as out:
        out.write("host,region,cpu_pct,mem_gb,disk_pct,healthy\n")
        for i in range(rows):
            cpu = "" if rng.random() < 0.03 else f"{rng.uniform(2, 98):.1f}"
            out.write(
                f"web-{i:03d},{rng.choice(['eu-west', 'us-east', 'ap-south'])},{cpu},"
                f"{rng.choice([4, 8, 16, 32])},{rng.uniform(10, 95):.1f},{rng.random() > 0.1}\n"
            )
    return path


def sample_etl_csv(path: Path, *, rows: int = 300, seed: int = 11) -> Path:
    """Servers again, with what an ETL must handle: repeated rows, a broken line, missing
    and out-of-range values."""
    sample_csv(path, rows=rows, seed=seed)
    lines = path.read_text().splitlines()
    broken = ["web-999,eu-west,12.0,8,40.0,True,unexpected", "web-998,us-east,140,8,40,True"]
    extra = [*lines[1:6], *broken]
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


ETL_SPEC: dict[str, Any] = {
    "transforms": [
        {"type": "strip", "columns": ["host", "region"]},
        {"type": "cast", "columns": {"cpu_pct": "float", "disk_pct": "float"}},
        {"type": "deduplicate", "keys": ["host"], "keep": "first"},
        {"type": "filter", "expr": "disk_pct < 90"},
    ],
    "checks": [
        {"type": "not_null", "columns": ["cpu_pct"], "severity": "error"},
        {"type": "range", "column": "cpu_pct", "min": 0, "max": 100, "severity": "error"},
    ],
    "target": {"table": "servers", "mode": "replace", "dataset": "servers"},
}


def metric_points(*, hours: int = 240, seed: int = 5) -> list[dict[str, Any]]:
    """Request latency, hourly, with a daily cycle and two incidents."""
    import math

    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = []
    for h in range(hours):
        value = 120 + 40 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 4)
        if h in (150, 151, 152):
            value += 260
        if h == 200:
            value -= 140
        points.append({"timestamp": (start + timedelta(hours=h)).isoformat(), "value": value})
    return points


def disk_points(*, hours: int = 336, seed: int = 3) -> list[dict[str, Any]]:
    """Disk usage filling up over two weeks, with a daily wiggle."""
    import math

    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        {
            "timestamp": (start + timedelta(hours=h)).isoformat(),
            "value": 40 + 0.11 * h + 1.5 * math.sin(2 * math.pi * h / 24) + rng.gauss(0, 0.4),
        }
        for h in range(hours)
    ]


def wait_for_workers(client: TriopsClient, stop: threading.Event, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not stop.is_set():
        try:
            health = client.health()
            if all(health.get("workers", {}).get(pool) for pool in POOL_QUEUES):
                return
        except Exception:  # the API is still starting
            health = {}
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers did not all come up within {timeout_s} s: {health}")
        stop.wait(1.0)


def summarise(job: dict[str, Any]) -> str:
    result = job.get("result") or {}
    if job["status"] != "succeeded":
        return json.dumps(job.get("error"))
    if job["kind"] == PARSE_LOGS.name:
        top = [t["template"] for t in result.get("templates", [])[:3]]
        return f"{result.get('lines')} lines, {result.get('template_count')} templates, e.g. {top}"
    if job["kind"] == TRAIN.name:
        return f"metrics {result.get('metrics')}, model sha256 {result['artifact']['sha256'][:12]}…"
    if job["kind"] == PROFILE.name:
        return f"{result.get('rows')} rows × {result.get('columns')} columns"
    if job["kind"] in (DETECT_LOG_ANOMALIES.name, DETECT_METRIC_ANOMALIES.name):
        return f"{result.get('anomaly_count')} anomalies"
    if job["kind"] == FORECAST_CAPACITY.name:
        expected = (result.get("crossing") or {}).get("expected") or {}
        return f"{result.get('threshold')} expected to be crossed at {expected.get('timestamp')}"
    if job["kind"] == ETL.name:
        return f"rows {result.get('rows', {})}, dataset {result.get('dataset')}"
    return json.dumps(result)[:200]


def _alert_storm(client: TriopsClient, say: Callable[[str], None]) -> None:
    """Three alerts on one service, as Alertmanager posts them, become one incident."""
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": name,
                "service": "checkout",
                "cluster": "demo",
                "severity": severity,
            },
            "annotations": {"summary": f"{name} on checkout"},
            "startsAt": (now + timedelta(seconds=20 * i)).isoformat(),
            "endsAt": "0001-01-01T00:00:00Z",
        }
        for i, (name, severity) in enumerate(
            [("HighLatency", "warning"), ("ErrorRate", "critical"), ("PodRestarts", "warning")]
        )
    ]
    payload = {"version": "4", "status": "firing", "receiver": "triops", "alerts": alerts}
    accepted = client.http.post("/alerts", json=payload).json()
    done = client.wait(accepted["correlation_job_id"], timeout_s=60)
    for incident_id in (done.get("result") or {}).get("incidents_opened", []):
        incident = client.http.get(f"/incidents/{incident_id}").json()
        say(
            f"demo: {len(alerts)} alerts → incident {incident_id[:8]} [{incident['severity']}] "
            f"{incident['title']!r}, root cause {incident['root_cause']['service']}"
        )


def _submit_all(
    client: TriopsClient, submissions: list[tuple[str, dict[str, Any]]], say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Submit each job, then wait for all of them; a refused one is said and skipped."""
    submitted = []
    for kind, params in submissions:
        try:
            job = client.submit(kind, params)
        except ApiError as exc:
            say(f"demo: {kind} refused: {exc}")
            continue
        say(f"demo: submitted {kind} as job {job['id']}")
        submitted.append(job)
    finished = []
    for job in submitted:
        done = client.wait(job["id"], timeout_s=180)
        say(f"demo: {done['kind']} {done['status']} on {done['worker']}: {summarise(done)}")
        finished.append(done)
    return finished


def _run(client: TriopsClient, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """One job, waited for; its result (empty when it did not succeed)."""
    done = client.wait(client.submit(kind, params)["id"], timeout_s=180)
    return dict(done.get("result") or {}) if done["status"] == "succeeded" else {}


def _model_lifecycle(client: TriopsClient, say: Callable[[str], None]) -> None:
    """Two versions of a model, each evaluated before it goes live, then a drift check."""
    model, data = "breast_cancer", "sklearn:breast_cancer"
    versions: list[int] = []
    for estimator, params in (("logistic_regression", {}), ("random_forest", {"n_estimators": 30})):
        trained = _run(
            client,
            TRAIN.name,
            {"dataset": data, "model": model, "estimator": estimator, "params": params},
        )
        if not trained:
            say(f"demo: training {model} with {estimator} did not succeed")
            return
        version = int(trained["version"])
        thresholds: dict[str, Any] = {"min": {"accuracy": 0.9}}
        if versions:
            thresholds["max_drop"] = {"accuracy": 0.05}
        verdict = _run(
            client,
            EVALUATE.name,
            {
                "model": model,
                "version": version,
                "dataset": data,
                "thresholds": thresholds,
                **({"compare_to": "production"} if versions else {}),
            },
        )
        if verdict.get("verdict") != "passed":
            say(f"demo: {model} v{version} did not pass its evaluation: {verdict.get('reasons')}")
            return
        _run(client, DEPLOY.name, {"model": model, "version": version, "reason": f"{estimator}"})
        versions.append(version)
        say(f"demo: {model} v{version} ({estimator}) evaluated, passed and deployed to production")
    drift = _run(client, CHECK_DRIFT.name, {"model": model, "dataset": data})
    say(f"demo: drift check of {model}@production: drift={drift.get('drift')}")


def _schedule(client: TriopsClient, say: Callable[[str], None]) -> None:
    """A schedule of our own, run once now so it has a run to show."""
    try:
        client.create_schedule(
            {
                "name": "demo-canary",
                "kind": ECHO.name,
                "params": {"payload": {"hello": "from a schedule"}},
                "interval_s": 3600,
                "description": "the demo's hourly canary",
            }
        )
    except ApiError as exc:
        if exc.status_code != 409:  # it exists from an earlier demo: fine
            raise
    run = client.schedule_action("demo-canary", "run-now")
    client.wait(run["id"], timeout_s=60)
    say("demo: schedule demo-canary (hourly) created and run once")


def run_demo(settings: Settings, *, stop: threading.Event, say: Callable[[str], None]) -> None:
    """Submit sample jobs of every family, a model's lifecycle, an ETL run, a schedule and
    an alert storm, so every page of the console has something to show; `say` prints a
    line to the user."""
    with TriopsClient(settings.api_url, settings.admin_token()) as client:
        say("demo: waiting for the API and one worker per pool...")
        wait_for_workers(client, stop)
        with tempfile.TemporaryDirectory() as tmp:
            log = client.upload(sample_log(Path(tmp) / "hdfs-sample.log"))
            burst = client.upload(
                sample_log(Path(tmp) / "hdfs-burst.log", lines=1200, burst=range(900, 960))
            )
            table = client.upload(sample_csv(Path(tmp) / "servers.csv"))
            etl_source = client.upload(sample_etl_csv(Path(tmp) / "servers-inventory.csv"))
        submissions = [
            (
                PARSE_LOGS.name,
                {"file_id": log["id"], "log_format": HDFS_FORMAT, "stream": "hdfs-demo"},
            ),
            (
                DETECT_LOG_ANOMALIES.name,
                {
                    "file_id": burst["id"],
                    "log_format": HDFS_FORMAT,
                    "timestamp_format": "%y%m%d %H%M%S",
                    "window_s": 120,
                },
            ),
            (DETECT_METRIC_ANOMALIES.name, {"points": metric_points()}),
            (
                FORECAST_CAPACITY.name,
                {"points": disk_points(), "threshold": 90, "horizon_s": 7 * 86400},
            ),
            (TRAIN.name, {"dataset": "sklearn:breast_cancer"}),
            (PROFILE.name, {"file_id": table["id"]}),
            (ETL.name, {**ETL_SPEC, "source": {"file_id": etl_source["id"]}}),
            (ECHO.name, {"payload": {"hello": "triops"}}),
        ]
        finished = _submit_all(client, submissions, say)
        etl = next((j for j in finished if j["kind"] == ETL.name), None)
        dataset = ((etl or {}).get("result") or {}).get("dataset")
        if dataset:
            trained = _run(
                client,
                TRAIN.name,
                {
                    "dataset": f"dataset:servers@{dataset['version']}",
                    "target": "healthy",
                    "model": "server-health",
                },
            )
            say(
                f"demo: server-health trained on servers@{dataset['version']}: "
                f"{trained.get('metrics')}"
            )
        _model_lifecycle(client, say)
        _schedule(client, say)
        _alert_storm(client, say)
        say(f"demo: done. Console: {settings.api_url}/ui  (sign in with the API token)")
