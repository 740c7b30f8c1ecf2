"""A job revoked or terminated through Celery control (as Flower does) ends `cancelled`."""

from __future__ import annotations

import time

import pytest

from core.broker import create_celery
from core.config import Settings
from core.db import session_scope
from core.jobs import cancel_unfinished, find_job
from core.tables import JobStatus, utcnow
from tests.integration.conftest import Stack, active_task_pid

pytestmark = pytest.mark.integration


def _row(settings: Settings, job_id: str) -> tuple[str, int, dict | None]:
    with session_scope(settings) as session:
        job = find_job(session=session, job_id=job_id)
        assert job is not None
        return str(job.status), int(job.attempts), job.error


def test_a_job_terminated_through_celery_control_ends_cancelled_and_never_runs_again(
    stack: Stack,
) -> None:
    with stack.client() as client:
        job = client.submit("system.echo", {"payload": "stop me", "sleep_s": 30})
        active_task_pid(stack, job["id"])
        # What Flower's "terminate" button sends: the API is not involved.
        create_celery(stack.settings).control.revoke(job["id"], terminate=True, signal="SIGTERM")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _row(stack.settings, job["id"])[0] != "cancelled":
            time.sleep(0.2)
        status, attempts, error = _row(stack.settings, job["id"])
        assert status == JobStatus.CANCELLED
        assert error is not None and "terminated through Celery control" in error["message"]
        # Longer than the retry backoff and a redelivery: still cancelled, not run again.
        time.sleep(5)
        assert _row(stack.settings, job["id"]) == (status, attempts, error)
        assert client.wait(client.submit("system.echo", {})["id"])["status"] == "succeeded"


def test_recording_a_revoke_twice_or_after_the_job_finished_changes_nothing(
    stack: Stack,
) -> None:
    with stack.client() as client:
        done = client.wait(client.submit("system.echo", {"payload": 1})["id"])
    with session_scope(stack.settings) as session:
        assert not cancel_unfinished(
            session=session, job_id=done["id"], now=utcnow(), message="late revoke"
        )
    assert _row(stack.settings, done["id"])[0] == JobStatus.SUCCEEDED
