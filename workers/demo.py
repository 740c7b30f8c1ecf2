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
from core.kinds.aiops import PARSE_LOGS
from core.kinds.dataops import PROFILE
from core.kinds.mlops import TRAIN
from core.kinds.system import ECHO
from workers.client import ApiError, TriopsClient


def sample_log(path: Path, *, lines: int = 400, seed: int = 7) -> Path:
    """A small HDFS-style log with a handful of templates and varying values."""
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
            level, component, text = shapes[rng.choices(range(5), weights=[30, 30, 30, 7, 3])[0]]
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


def run_demo(settings: Settings, *, stop: threading.Event, say: Callable[[str], None]) -> None:
    """Submit the sample jobs and an alert storm; `say` prints a line to the user."""
    with TriopsClient(settings.api_url, settings.admin_token()) as client:
        say("demo: waiting for the API and one worker per pool...")
        wait_for_workers(client, stop)
        with tempfile.TemporaryDirectory() as tmp:
            log = client.upload(sample_log(Path(tmp) / "hdfs-sample.log"))
            table = client.upload(sample_csv(Path(tmp) / "servers.csv"))
        submissions = [
            (
                PARSE_LOGS.name,
                {
                    "file_id": log["id"],
                    "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
                },
            ),
            (TRAIN.name, {"dataset": "sklearn:breast_cancer"}),
            (PROFILE.name, {"file_id": table["id"]}),
            (ECHO.name, {"payload": {"hello": "triops"}}),
        ]
        submitted = []
        for kind, params in submissions:
            try:
                job = client.submit(kind, params)
            except ApiError as exc:
                say(f"demo: {kind} refused: {exc}")
                continue
            say(f"demo: submitted {kind} as job {job['id']}")
            submitted.append(job)
        for job in submitted:
            done = client.wait(job["id"], timeout_s=120)
            say(f"demo: {done['kind']} {done['status']} on {done['worker']}: {summarise(done)}")
        _alert_storm(client, say)
        say(
            f"demo: done. Jobs: {settings.api_url}/api/v1/jobs  docs: {settings.api_url}/docs  "
            f"Flower: http://{settings.flower_host}:{settings.flower_port}"
        )
