"""Beat and Flower as real processes next to the workers."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.conftest import Stack, free_port, spawn

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
                fired = [j for j in page["jobs"] if j["origin"] == "beat:housekeeping"]
                if sum(j["status"] == "succeeded" for j in fired) >= 2:
                    break
                time.sleep(0.5)
    finally:
        beat.stop()
    assert sum(j["status"] == "succeeded" for j in fired) >= 2, beat.log.read_text()[-2000:]


def test_flower_behind_basic_auth_lists_the_worker_of_each_pool(stack: Stack) -> None:
    port = free_port()
    env = {**stack.env, "TRIOPS_FLOWER_PORT": str(port), "TRIOPS_FLOWER_BASIC_AUTH": "ops:s3cret"}
    env.pop("FLOWER_UNAUTHENTICATED_API", None)
    flower = spawn("flower", ["flower"], env, stack.logs)
    names: set[str] = set()
    refused = None
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/workers?refresh=1"
                refused = httpx.get(url, timeout=10).status_code
                response = httpx.get(url, timeout=10, auth=("ops", "s3cret"))
                if response.status_code == 200:
                    names = {name.split("@")[0] for name in response.json()}
                    if {"aiops", "mlops", "dataops"} <= names:
                        break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    finally:
        flower.stop()
    assert {"aiops", "mlops", "dataops"} <= names, flower.log.read_text()[-2000:]
    assert refused == 401
