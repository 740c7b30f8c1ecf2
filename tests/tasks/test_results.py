"""What a job's body returns is stored whatever text it holds, and refused (with the
reason, on the job's row) when it is too big for the jobs table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update

from core import jobs
from core.broker import create_celery
from core.config import Settings
from core.db import session_scope
from core.kinds import get_kind, task_modules
from core.tables import Job
from core.validation import json_size, storable
from tasks.base import mark_succeeded


def test_text_a_database_cannot_store_is_replaced_in_keys_and_values() -> None:
    value = {"line\x00": ["a\x00b", {"k": "\ud800x"}], "n": 3, "ok": "plain"}
    assert storable(value) == {"line\ufffd": ["a\ufffdb", {"k": "\ufffdx"}], "n": 3, "ok": "plain"}
    assert json_size({"a": "é"}) == len('{"a":"\\u00e9"}')


@pytest.fixture
def run_echo(settings: Settings) -> Iterator[Any]:
    """Run `system.echo` for a real job row, in this process, as a worker would (its
    message is never sent)."""
    app = create_celery(settings, include=task_modules())
    app.loader.import_default_modules()
    echo = app.tasks["system.echo"]

    def run(params: dict[str, Any]) -> Job:
        # The row only, no message: a live stack elsewhere in the session consumes the
        # suite's queues and must not run it.
        with session_scope(settings) as session:
            job, _ = jobs.create_job(session=session, kind=get_kind("system.echo"), params=params)
            session.commit()
        echo.apply(task_id=job.id, kwargs={})
        with session_scope(settings) as session:
            row = session.get(Job, job.id)
            assert row is not None
            session.expunge(row)
            return row

    run.task = echo  # type: ignore[attr-defined]
    yield run


def test_a_result_holding_a_nul_is_stored_with_it_replaced(
    run_echo: Any, settings: Settings
) -> None:
    # The API refuses NUL in params, so no body is handed one; it can still read one
    # (a log line with a NUL byte) and return it: recording it must not fail.
    row = run_echo({"payload": "first"})
    with session_scope(settings) as session:
        session.execute(
            update(Job).where(Job.id == row.id).values(status="running", finished_at=None)
        )
        session.commit()
    assert mark_succeeded(settings, row.id, {"line": "a\x00b", "\ud800": 1})
    with session_scope(settings) as session:
        stored = session.get(Job, row.id)
        assert stored is not None
        assert stored.status == "succeeded"
        assert stored.result == {"line": "a\ufffdb", "\ufffd": 1}


def test_a_result_over_the_limit_fails_the_job_with_the_reason(
    run_echo: Any, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    small = settings.model_copy(update={"max_result_bytes": 2048})
    # The settings the task's own code reads (whichever module object defined it).
    monkeypatch.setitem(type(run_echo.task)._attempt.__globals__, "get_settings", lambda: small)
    row = run_echo({"payload": "x" * 4096})
    assert row.status == "failed"
    assert row.error is not None and "TRIOPS_MAX_RESULT_BYTES" in row.error["message"]
    assert row.result is None
