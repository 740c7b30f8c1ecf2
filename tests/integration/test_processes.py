"""Beat and Flower as real processes next to the workers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.stack import free_port
from tests.integration.conftest import Stack, spawn

pytestmark = pytest.mark.integration


def test_beat_fires_housekeeping_as_jobs_that_workers_run(stack: Stack) -> None:
    env = {**stack.env, "TRIOPS_HOUSEKEEPING_INTERVAL_S": "1"}
    beat = spawn("beat", ["beat"], env, stack.logs)
    try:
        deadline = time.monotonic() + 45
        fired: list[dict[str, object]] = []
        with stack.client() as client:
            while time.monotonic() < deadline:
                page = client.jobs(kind="system.housekeeping", limit=50)
                fired = [j for j in page["jobs"] if j["origin"] == "schedule:housekeeping"]
                if sum(j["status"] == "succeeded" for j in fired) >= 2:
                    break
                time.sleep(0.5)
    finally:
        beat.stop()
    assert sum(j["status"] == "succeeded" for j in fired) >= 2, beat.log.read_text()[-2000:]


def test_flower_behind_basic_auth_lists_the_workers_and_switches_their_task_events_on(
    stack: Stack,
) -> None:
    port = free_port()
    env = {**stack.env, "TRIOPS_FLOWER_PORT": str(port), "TRIOPS_FLOWER_BASIC_AUTH": "ops:s3cret"}
    env.pop("FLOWER_UNAUTHENTICATED_API", None)
    flower = spawn("flower", ["flower"], env, stack.logs)
    auth = ("ops", "s3cret")
    base = f"http://127.0.0.1:{port}/api"
    names: set[str] = set()
    refused = None
    seen: dict[str, object] = {}
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            try:
                refused = httpx.get(f"{base}/workers?refresh=1", timeout=10).status_code
                response = httpx.get(f"{base}/workers?refresh=1", timeout=10, auth=auth)
                if response.status_code == 200:
                    names = {name.split("@")[0] for name in response.json()}
                    if {"aiops", "mlops", "dataops"} <= names:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        # Workers publish no task events until asked: Flower asks every few seconds
        # while it runs, and from then on a job shows in its task list.
        with stack.client() as client:
            deadline = time.monotonic() + 45
            while time.monotonic() < deadline and not seen:
                job = client.submit("system.echo", {"payload": "watched"})
                client.wait(job["id"], timeout_s=30)
                time.sleep(1.0)
                tasks = httpx.get(f"{base}/tasks", timeout=10, auth=auth).json()
                seen = tasks.get(job["id"]) or {}
    finally:
        flower.stop()
    assert {"aiops", "mlops", "dataops"} <= names, flower.log.read_text()[-2000:]
    assert refused == 401
    assert seen.get("state") == "SUCCESS", flower.log.read_text()[-2000:]


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "TRIOPS_API_URL": stack.api_url}
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_submits_waits_shows_and_lists_jobs(stack: Stack, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"payload": {"from": "file"}}))
    submitted = _cli(
        stack, "submit", "system.echo", "--params-file", str(params), "-p", "sleep_s=0.5", "--wait"
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.splitlines()[0]
    body = json.loads(submitted.stdout[len(job_id) :])
    assert body["status"] == "succeeded" and body["result"]["payload"] == {"from": "file"}

    shown = _cli(stack, "status", job_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == job_id
    listed = _cli(stack, "jobs", "--kind", "system.echo")
    assert listed.returncode == 0 and job_id in listed.stdout and "STATUS" in listed.stdout

    failed = _cli(stack, "submit", "system.echo", "-p", "fail_with=nope", "--wait")
    assert failed.returncode == 1 and '"failed"' in failed.stdout
    refused = _cli(stack, "submit", "system.nope")
    assert refused.returncode == 1 and "did you mean 'system.echo'?" in refused.stderr
    healthy = _cli(stack, "health", "--check")
    assert healthy.returncode == 0
