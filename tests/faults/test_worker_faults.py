"""Workers killed, stopped and crashed under load: every job ends once, within a minute
of the fault, and the domain tables hold nothing twice."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import session_scope
from core.tables import EtlLoad, ModelVersion
from tests.faults.conftest import FaultStack, kill, record, wait_all, wait_running

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def echo_jobs(stack: FaultStack, count: int, sleep_s: float) -> list[str]:
    with stack.client() as client:
        batch = [
            {"kind": "system.echo", "params": {"payload": i, "sleep_s": sleep_s}}
            for i in range(count)
        ]
        body = client.http.post("/jobs:batch", json={"jobs": batch}).json()
    return [job["id"] for job in body["jobs"]]


def assert_once(stack: FaultStack, jobs: list[dict[str, Any]]) -> None:
    assert [j["status"] for j in jobs] == ["succeeded"] * len(jobs), [
        (j["id"], j["status"], j["error"]) for j in jobs if j["status"] != "succeeded"
    ]
    ran = stack.succeeded_lines()
    twice = {j["id"]: ran.get(j["id"]) for j in jobs if ran.get(j["id"]) != 1}
    assert not twice, f"jobs that did not succeed exactly once: {twice}"


def test_a_killed_pool_process_of_each_pool_loses_nothing_and_duplicates_nothing(
    fault_stack: FaultStack, tmp_path: Path
) -> None:
    model = f"fault-{uuid.uuid4().hex[:8]}"
    table = f"fault_{uuid.uuid4().hex[:8]}"
    csv = tmp_path / "rows.csv"
    csv.write_text("id,value\n" + "".join(f"{i},{i * 2}\n" for i in range(1_000_000)))
    with fault_stack.client() as client:
        uploaded = client.upload(csv)
        train = client.submit(
            "mlops.train",
            {
                "dataset": "sklearn:digits",
                "model": model,
                "estimator": "random_forest",
                "params": {"n_estimators": 200},
            },
        )["id"]
        etl = client.submit(
            "dataops.etl",
            {
                "source": {"file_id": uploaded["id"]},
                "transforms": [{"type": "cast", "columns": {"value": "int"}}],
                "target": {"table": table, "mode": "replace"},
            },
        )["id"]
        echo = client.submit("system.echo", {"payload": "survivor", "sleep_s": 3})["id"]
        fault_stack.kill_when_active([train, etl, echo])
        killed_at = time.monotonic()
        jobs = wait_all(client, [train, etl, echo], timeout_s=120)
        recovered_s = time.monotonic() - killed_at
    record("pool_process_killed", jobs=3, lost=0, twice=0, all_done_after_s=recovered_s)
    assert_once(fault_stack, jobs)
    assert all(j["attempts"] >= 2 for j in jobs), [j["attempts"] for j in jobs]
    with session_scope(fault_stack.settings) as session:
        versions = session.scalar(
            select(func.count()).select_from(ModelVersion).where(ModelVersion.model_name == model)
        )
        loads = session.scalar(
            select(func.count()).select_from(EtlLoad).where(EtlLoad.job_id == etl)
        )
    assert (versions, loads) == (1, 1)


def test_a_killed_worker_main_process_costs_seconds_not_jobs(fault_stack: FaultStack) -> None:
    # Five running, more prefetched or queued behind them on one worker; then its main
    # process is SIGKILLed (its pool processes die with it) and it is started again, as
    # `triops up` or the container runtime would.
    ids = echo_jobs(fault_stack, 30, sleep_s=2)
    with fault_stack.client() as client:
        wait_running(client, ids, count=2)
        killed_at = time.monotonic()
        for name in ("worker-aiops", "worker-mlops", "worker-dataops"):
            kill(fault_stack.main_pid(name))
        for name, pool in (
            ("worker-aiops", "aiops"),
            ("worker-mlops", "mlops"),
            ("worker-dataops", "dataops"),
        ):
            fault_stack.procs[name].process.wait()
            fault_stack.start_worker(pool, name)
        jobs = wait_all(client, ids, timeout_s=90)
        recovered_s = time.monotonic() - killed_at
    record("worker_main_killed", jobs=len(ids), all_done_after_s=recovered_s)
    assert_once(fault_stack, jobs)
    # Everything the dead workers held (running or prefetched) was handed out again well
    # before the old one-hour visibility timeout: within a minute, all are done.
    assert recovered_s < 75, recovered_s


def test_a_job_longer_than_the_visibility_timeout_runs_once(fault_stack: FaultStack) -> None:
    # The broker takes back a message not refreshed for 20 s; a live worker refreshes
    # what it holds, so a 30 s job is never handed to a second worker.
    [job_id] = echo_jobs(fault_stack, 1, sleep_s=30)
    with fault_stack.client() as client:
        [job] = wait_all(client, [job_id], timeout_s=90)
    record(
        "longer_than_visibility_timeout", jobs=1, job_s=30, visibility_s=20, runs=job["attempts"]
    )
    assert job["status"] == "succeeded" and job["attempts"] == 1
    assert fault_stack.succeeded_lines().get(job_id) == 1


def test_sigterm_lets_running_jobs_finish_and_loses_none(fault_stack: FaultStack) -> None:
    ids = echo_jobs(fault_stack, 12, sleep_s=2)
    with fault_stack.client() as client:
        wait_running(client, ids, count=1)
        proc = fault_stack.procs["worker-aiops"]
        stopped_at = time.monotonic()
        kill(proc.process.pid, signal.SIGTERM)  # warm shutdown
        proc.process.wait(timeout=60)
        fault_stack.start_worker("aiops")
        jobs = wait_all(client, ids, timeout_s=90)
        recovered_s = time.monotonic() - stopped_at
    record("worker_sigterm", jobs=len(ids), all_done_after_s=recovered_s)
    assert_once(fault_stack, jobs)


def test_a_job_that_kills_its_worker_every_time_is_failed_with_the_reason(
    fault_stack: FaultStack,
) -> None:
    with fault_stack.client() as client:
        poison = client.submit("system.echo", {"exit_process": True})["id"]
        healthy = client.submit("system.echo", {"payload": "after"})["id"]
        started = time.monotonic()
        done = wait_all(client, [poison, healthy], timeout_s=120)
    record(
        "poison_message",
        jobs=2,
        attempts=done[0]["attempts"],
        failed_after_s=time.monotonic() - started,
    )
    assert done[0]["status"] == "failed"
    assert done[0]["error"]["type"] == "WorkerLost"
    assert "died while running it" in done[0]["error"]["message"]
    assert done[1]["status"] == "succeeded"
    fault_stack.wait_workers()  # the pools replaced their processes and go on
