"""The services under the stack go away and come back: the broker killed and restarted
from its append-only file, the database cut off for a while. Nothing is lost, nothing
runs twice, and the stack carries on by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from core.config import Settings
from tests.conftest import skip_or_fail
from tests.faults.conftest import (
    POOLS,
    FaultStack,
    TcpCut,
    record,
    stop_all,
    wait_all,
    worker_rss,
)
from tests.faults.test_worker_faults import assert_once, echo_jobs
from tests.integration.conftest import spawn, wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_the_broker_killed_and_restarted_loses_no_job(fault_stack: FaultStack) -> None:
    fault_stack.wait_workers()
    before = worker_rss(fault_stack)
    ids = echo_jobs(fault_stack, 40, sleep_s=0.5)
    time.sleep(1.5)  # some running, some prefetched, most still queued
    fault_stack.redis.kill()
    time.sleep(1.0)
    fault_stack.redis.start()  # from its append-only file, as `triops up` restarts it
    restarted = time.monotonic()
    with fault_stack.client(timeout_s=10) as client:
        first_done = None
        deadline = restarted + 90
        while time.monotonic() < deadline and first_done is None:
            late = client.submit("system.echo", {"payload": "after the restart"})["id"]
            done = wait_all(client, [late], timeout_s=60)
            if done[0]["status"] == "succeeded":
                first_done = time.monotonic() - restarted
        # Messages written in the last second before the kill may be gone: housekeeping
        # re-sends what it cannot find in the broker.
        client.wait(client.submit("system.housekeeping", {"lost_after_s": 5})["id"], timeout_s=60)
        jobs = wait_all(client, ids, timeout_s=120)
        all_done = time.monotonic() - restarted
    # Workers that lost their broker keep no backlog of events or messages (celery#4843).
    growth = {name: rss - before[name] for name, rss in worker_rss(fault_stack).items()}
    record(
        "broker_killed_restarted",
        jobs=len(ids),
        first_job_after_restart_s=first_done if first_done is not None else -1.0,
        all_done_after_s=all_done,
        worker_rss_growth_mb=max(growth.values()) / 2**20,
    )
    assert first_done is not None and first_done < 60, first_done
    assert all(g <= before[n] * 0.5 + 64 * 2**20 for n, g in growth.items()), growth
    assert_once(fault_stack, jobs)


@pytest.fixture
def cut_database(
    fault_stack: FaultStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FaultStack, TcpCut]]:
    """The fault stack's API and workers again, talking to the database through a proxy
    the test can cut."""
    settings: Settings = fault_stack.settings
    if settings.uses_sqlite:
        skip_or_fail("a database outage needs a database server (TRIOPS_DATABASE_URL)")
    url = make_url(settings.database_url)
    proxy = TcpCut(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    stop_all(fault_stack.procs)
    env = {**fault_stack.env, "TRIOPS_DATABASE_URL": through}
    logs = tmp_path_factory.mktemp("cut-logs")
    procs = {"api": spawn("api", ["api"], env, logs)}
    for pool in POOLS:
        procs[f"worker-{pool}"] = spawn(f"worker-{pool}", ["worker", pool], env, logs)
    proxied = FaultStack(settings, env, fault_stack.api_url, logs, fault_stack.redis, procs)
    try:
        wait_healthy(proxied.api_url, procs)
        yield proxied, proxy
    finally:
        stop_all(procs)
        proxy.close()
        # The stack's own processes come back before the next test that needs them.
        fault_stack.stopped = True


def test_the_database_away_for_a_while_is_a_503_then_every_job_finishes_once(
    cut_database: tuple[FaultStack, TcpCut],
) -> None:
    stack, proxy = cut_database
    ids = echo_jobs(stack, 12, sleep_s=1)
    time.sleep(1.0)
    proxy.cut()
    try:
        answer = httpx.post(
            f"{stack.api_url}/api/v1/jobs",
            json={"kind": "system.echo", "params": {}},
            headers={"Authorization": f"Bearer {stack.env['TRIOPS_API_TOKEN']}"},
            timeout=30,
        )
        assert answer.status_code == 503
        assert answer.json()["error"]["message"] == (
            "the database is unavailable; try again shortly"
        )
        time.sleep(8)  # workers meet the outage: they retry with backoff
    finally:
        proxy.restore()
    restored = time.monotonic()
    with stack.client() as client:
        jobs = wait_all(client, ids, timeout_s=120)
    record(
        "database_cut",
        jobs=len(ids),
        outage_s=8.0,
        answer_during_outage=503,
        all_done_after_restore_s=time.monotonic() - restored,
    )
    assert_once(stack, jobs)
