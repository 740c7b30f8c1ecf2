"""The API's Prometheus metrics: requests by route template and status, latencies, jobs
submitted by kind, queue depths read from the broker at scrape time."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels_text, value = line.rsplit("} ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels_text))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return 0.0


def test_submitting_jobs_moves_the_counters_and_the_queue_depth(client: TestClient) -> None:
    before = client.get("/metrics", headers={"Authorization": ""}).text
    batch = [{"kind": "system.echo", "params": {"payload": i}} for i in range(7)]
    assert client.post("/api/v1/jobs:batch", json={"jobs": batch}).status_code == 202
    assert client.get("/api/v1/jobs/nope").status_code == 404
    after = client.get("/metrics", headers={"Authorization": ""})
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    submitted = "triops_jobs_submitted_total"
    assert (
        sample(text, submitted, kind="system.echo") - sample(before, submitted, kind="system.echo")
        == 7
    )
    # Messages: the batch's seven jobs of one kind travel as one bundle.
    assert sample(text, "triops_queue_depth", queue="system") == 1
    assert client.post("/api/v1/jobs", json=batch[0]).status_code == 202
    alone = client.get("/metrics", headers={"Authorization": ""}).text
    assert sample(alone, "triops_queue_depth", queue="system") == 2
    requests = "triops_http_requests_total"
    # One series per route template, not per job id.
    assert sample(text, requests, route="/api/v1/jobs/{job_id}", status="404") >= 1
    assert sample(text, requests, route="/api/v1/jobs:batch", method="POST", status="202") >= 1
    assert "triops_http_request_seconds_bucket" in text
    assert "nope" not in text


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    echoed = client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    made = client.get("/api/v1/health", headers={"X-Request-ID": "bad id!"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
