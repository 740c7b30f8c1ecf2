"""Twelve clients submit the same job with the same idempotency key at the same moment,
against the API served by uvicorn on the suite's database: every one gets the same job
(one 202, the rest 200), none a 500, and one row exists."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from core.config import Settings
from core.db import session_scope
from core.tables import Job
from tests.api.conftest import TOKEN
from tests.conftest import clear_tables

CLIENTS = 12


def test_concurrent_submits_with_one_key_all_get_the_same_job(
    live_api: str, settings: Settings
) -> None:
    clear_tables(settings)
    body = {"kind": "system.echo", "params": {"payload": "once"}, "idempotency_key": "race-1"}
    barrier = threading.Barrier(CLIENTS)

    def submit(_: int) -> tuple[int, str]:
        with httpx.Client(
            base_url=live_api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as client:
            client.get("/api/v1/kinds")  # connected and warm before the start line
            barrier.wait()
            response = client.post("/api/v1/jobs", json=body)
            return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(submit, range(CLIENTS)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (CLIENTS - 1) + [202], answers
    assert len({job_id for _, job_id in answers}) == 1, answers
    with session_scope(settings) as session:
        count = session.scalar(
            select(func.count()).select_from(Job).where(Job.idempotency_key == "race-1")
        )
    assert count == 1
