"""A worker's metrics (summed over its pool processes) and JSON logs, from real processes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from bench.stack import free_port
from core import liveness
from core.broker import create_celery
from tests.api.test_metrics_api import sample
from tests.integration.conftest import Stack, spawn

pytestmark = pytest.mark.integration


def test_a_workers_metrics_and_json_logs_follow_its_jobs(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **stack.env,
        "TRIOPS_WORKER_METRICS_PORT": str(port),
        "TRIOPS_LOG_JSON": "1",
        "TRIOPS_AIOPS_CONCURRENCY": "2",
    }
    # A second aiops worker of its own, so its log holds only what this test caused.
    worker = spawn("worker-observed", ["worker", "aiops"], env, tmp_path)
    try:
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(metrics_url, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        # Consuming once it beats (its consumer is up): only then can it take jobs.
        app = create_celery(stack.settings)
        deadline = time.monotonic() + 60
        mine = f":{worker.process.pid}"
        while time.monotonic() < deadline:
            with app.connection_for_read() as conn:
                alive = liveness.alive_instances(conn.default_channel.client)
            if any(name.endswith(mine) for name in alive):
                break
            time.sleep(0.5)
        # The jobs are shared with the stack's own aiops worker: send rounds of slow-ish
        # canaries until this worker has run some (bounded).
        jobs: list[str] = []
        text = ""
        with stack.client() as client:
            for _ in range(10):
                round_ids = [
                    client.submit("system.echo", {"payload": i, "sleep_s": 0.3})["id"]
                    for i in range(8)
                ]
                for job_id in round_ids:
                    client.wait(job_id, timeout_s=60)
                jobs += round_ids
                text = httpx.get(metrics_url, timeout=5).text
                if sample(text, "triops_jobs_finished_total", kind="system.echo") > 0:
                    break
        done_here = sample(
            text, "triops_jobs_finished_total", kind="system.echo", status="succeeded"
        )
        assert done_here >= 1, text[-3000:]
        assert sample(text, "triops_job_seconds_count", kind="system.echo") == done_here
        assert sample(text, "triops_job_seconds_sum", kind="system.echo") >= 0.3 * done_here
    finally:
        worker.stop()
    lines = [
        json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")
    ]
    assert lines, worker.log.read_text()[-2000:]
    tagged = [line for line in lines if line.get("job_id") in jobs]
    assert tagged, "a job's lines carry its id"
    assert all(line["kind"] == "system.echo" and line["pool"] == "aiops" for line in tagged)
    assert any(line.get("status") == "succeeded" for line in tagged)
    assert "test-token" not in worker.log.read_text()
