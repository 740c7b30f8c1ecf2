"""Load: 10,000 jobs through the HTTP API from several clients at once, single and
batched. Every one ends once, the workers' memory stays bounded, and the API keeps
answering its health check within a second throughout."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.tables import Job
from tests.faults.conftest import FaultStack, record, worker_rss
from tests.integration.conftest import TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.faults]

BATCH_CLIENTS, BATCHES, BATCH_SIZE = 2, 8, 500  # 8,000 jobs in batches
SINGLE_CLIENTS, SINGLES = 2, 1000  # 2,000 jobs one by one
TOTAL = BATCH_CLIENTS * BATCHES * BATCH_SIZE + SINGLE_CLIENTS * SINGLES
RSS_GROWTH_LIMIT = 1.5
"""A worker's memory (main and pool processes) after the load, at most this times before
(plus 64 MB for caches that fill once)."""


@pytest.mark.timeout(600)
def test_ten_thousand_jobs_from_several_clients_all_end_once(fault_stack: FaultStack) -> None:
    stack = fault_stack
    stack.wait_workers()
    label = f"load-{time.time_ns()}"
    before = worker_rss(stack)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    slowest_health = 0.0
    submitting = threading.Event()
    submitting.set()

    def watch_health() -> None:
        nonlocal slowest_health
        with httpx.Client(timeout=5) as http:
            while submitting.is_set():
                started = time.monotonic()
                http.get(f"{stack.api_url}/api/v1/health")
                slowest_health = max(slowest_health, time.monotonic() - started)
                time.sleep(0.5)

    def batches(client_index: int) -> int:
        sent = 0
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", headers=headers, timeout=60) as http:
            for batch in range(BATCHES):
                jobs = [
                    {
                        "kind": "system.echo",
                        "params": {"payload": f"{label}-b{client_index}-{batch}-{i}"},
                        "idempotency_key": f"{label}-b{client_index}-{batch}-{i}",
                    }
                    for i in range(BATCH_SIZE)
                ]
                answer = http.post("/jobs:batch", json={"jobs": jobs})
                assert answer.status_code == 202, answer.text[:500]
                sent += sum(answer.json()["created"])
        return sent

    def singles(client_index: int) -> int:
        sent = 0
        with httpx.Client(base_url=f"{stack.api_url}/api/v1", headers=headers, timeout=60) as http:
            for i in range(SINGLES):
                answer = http.post(
                    "/jobs",
                    json={
                        "kind": "system.echo",
                        "params": {"payload": f"{label}-s{client_index}-{i}"},
                    },
                )
                assert answer.status_code == 202, answer.text[:500]
                sent += 1
        return sent

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=BATCH_CLIENTS + SINGLE_CLIENTS) as pool:
            futures = [pool.submit(batches, i) for i in range(BATCH_CLIENTS)]
            futures += [pool.submit(singles, i) for i in range(SINGLE_CLIENTS)]
            created = sum(f.result(timeout=300) for f in futures)
        assert created == TOTAL
        deadline = time.monotonic() + 300
        open_count = TOTAL
        while time.monotonic() < deadline:
            with session_scope(stack.settings) as session:
                open_count = (
                    session.scalar(
                        select(func.count())
                        .select_from(Job)
                        .where(Job.kind == "system.echo", Job.status.in_(["queued", "running"]))
                    )
                    or 0
                )
            if open_count == 0:
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
    finally:
        submitting.clear()
        watcher.join(timeout=10)
    assert open_count == 0, f"{open_count} jobs still open"
    with session_scope(stack.settings) as session:
        rows = session.execute(
            select(Job.id, Job.status).where(
                Job.kind == "system.echo", Job.params["payload"].as_string().like(f"{label}%")
            )
        ).all()
    assert len(rows) == TOTAL
    assert {status for _, status in rows} == {"succeeded"}
    ran = stack.succeeded_lines()
    assert all(ran.get(job_id) == 1 for job_id, _ in rows), "a job ran twice or never"
    after = worker_rss(stack)
    record(
        "load",
        jobs=TOTAL,
        clients=BATCH_CLIENTS + SINGLE_CLIENTS,
        seconds=elapsed,
        jobs_per_s=TOTAL / elapsed,
        slowest_health_s=slowest_health,
        worker_rss_growth_mb=max(after[n] - before[n] for n in after) / 2**20,
    )
    for name, rss in after.items():
        assert rss <= before[name] * RSS_GROWTH_LIMIT + 64 * 2**20, (name, before[name], rss)
    assert slowest_health < 1.0, slowest_health
