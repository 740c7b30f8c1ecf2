"""The submit path: a batch is validated whole, written in one transaction with bulk
inserts, and its messages published together; idempotency keys are honoured in bulk and
under races, and the guarantees of one job hold for many."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event

from core.broker import create_celery, message_ids_in_broker
from core.config import Settings
from core.db import get_engine
from tests.api.conftest import TOKEN


@contextmanager
def statements(settings: Settings) -> Iterator[list[str]]:
    """Every SQL statement the process sends while inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.strip().split("\n", 1)[0].upper())

    engine = get_engine(settings)
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def echo_jobs(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"kind": "system.echo", "params": {"payload": i}, **extra} for i in range(count)]


def test_a_batch_is_one_bulk_insert_and_every_message_is_queued(
    client: TestClient, settings: Settings
) -> None:
    with statements(settings) as seen:
        response = client.post("/api/v1/jobs:batch", json={"jobs": echo_jobs(200)})
    assert response.status_code == 202, response.text
    ids = [job["id"] for job in response.json()["jobs"]]
    inserts = [s for s in seen if s.startswith("INSERT INTO JOBS")]
    assert len(inserts) == 1, seen  # one statement for 200 rows
    assert not any(s.startswith(("UPDATE JOBS", "SELECT JOBS")) for s in seen), seen
    assert set(ids) <= message_ids_in_broker(create_celery(settings), ["system"])
    assert len(set(ids)) == 200


def test_one_job_takes_one_insert_and_no_reads_back(client: TestClient, settings: Settings) -> None:
    with statements(settings) as seen:
        response = client.post("/api/v1/jobs", json=echo_jobs(1)[0])
    assert response.status_code == 202
    jobs = [s for s in seen if "JOBS" in s]
    assert jobs == [s for s in jobs if s.startswith("INSERT INTO JOBS")] and len(jobs) == 1, seen
    assert response.json()["enqueued_at"] is not None


def test_idempotency_keys_are_honoured_in_bulk_within_and_across_batches(
    client: TestClient,
) -> None:
    first = client.post(
        "/api/v1/jobs:batch",
        json={
            "jobs": [
                {"kind": "system.echo", "params": {"payload": 1}, "idempotency_key": "a"},
                {"kind": "system.echo", "params": {"payload": 1}, "idempotency_key": "a"},
                {"kind": "system.echo", "params": {"payload": 2}, "idempotency_key": "b"},
            ]
        },
    ).json()
    assert first["created"] == [True, False, True]
    assert first["jobs"][0]["id"] == first["jobs"][1]["id"]
    again = client.post(
        "/api/v1/jobs:batch",
        json={
            "jobs": [
                {"kind": "system.echo", "params": {"payload": 2}, "idempotency_key": "b"},
                {"kind": "system.echo", "params": {"payload": 3}},
            ]
        },
    ).json()
    assert again["created"] == [False, True]
    assert again["jobs"][0]["id"] == first["jobs"][2]["id"]
    conflict = client.post(
        "/api/v1/jobs:batch",
        json={
            "jobs": [
                {"kind": "system.echo", "params": {"payload": 4}},
                {"kind": "system.echo", "params": {"payload": 9}, "idempotency_key": "a"},
            ]
        },
    )
    assert conflict.status_code == 409
    # The conflicting batch wrote nothing: 3 jobs so far.
    assert len(client.get("/api/v1/jobs").json()["jobs"]) == 3


def test_concurrent_submits_with_one_key_all_get_the_same_job_and_no_error(
    client: TestClient, live_api: str
) -> None:
    body = {"kind": "system.echo", "params": {"payload": "once"}, "idempotency_key": "race"}

    def post(_: int) -> httpx.Response:
        return httpx.post(
            f"{live_api}/api/v1/jobs",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(post, range(36)))
    assert sorted({a.status_code for a in answers}) in ([200, 202], [202])
    assert len({a.json()["id"] for a in answers}) == 1
    assert [a.status_code for a in answers].count(202) == 1
    assert len(client.get("/api/v1/jobs").json()["jobs"]) == 1


def test_a_batch_over_the_limit_is_refused_with_the_limit(client: TestClient) -> None:
    response = client.post("/api/v1/jobs:batch", json={"jobs": echo_jobs(1001)})
    assert response.status_code == 422
    assert "1000" in response.json()["error"]["message"]
