"""`triops up` on the embedded defaults: the stack comes up, serves, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bench.stack import free_port
from core.broker import create_celery
from core.config import Settings
from core.db import dispose_engines, session_scope
from core.submission import submit
from tests.integration.conftest import wait_healthy
from workers.client import TriopsClient

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def embedded_env() -> Iterator[dict[str, str]]:
    """A fresh TRIOPS_HOME on the embedded defaults (short path: it holds a unix socket)."""
    with tempfile.TemporaryDirectory(prefix="triops-up-", dir="/tmp") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRIOPS_")}
        env.update(
            TRIOPS_HOME=home,
            TRIOPS_API_TOKEN="up-token-0123456789",
            TRIOPS_API_PORT=str(free_port()),
            TRIOPS_FLOWER_PORT=str(free_port()),
            TRIOPS_AIOPS_CONCURRENCY="1",
            TRIOPS_DATAOPS_CONCURRENCY="1",
        )
        yield env


def start_up(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "up"], env=env, stdout=out, stderr=out
        )


def stop_up(process: subprocess.Popen[bytes], log: Path) -> set[int]:
    family = descendants(process.pid)
    assert family, "up started no children"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, log.read_text()[-3000:]
    return {pid for pid in family if alive(pid)}


def child_pid(up_pid: int, needle: str) -> int:
    """The pid of the process `up` started whose command line holds `needle` (a direct
    child: a worker's pool processes carry its command line too)."""
    for child in psutil.Process(up_pid).children():
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if needle in cmdline:
            return int(child.pid)
    raise AssertionError(f"no child of up runs {needle!r}")


@pytest.mark.faults
def test_up_serves_restarts_what_dies_stops_cleanly_and_a_later_up_finds_queued_work(
    embedded_env: dict[str, str], tmp_path: Path
) -> None:
    """One home, three `up`s: stopped cleanly; then, with a job queued while only Redis
    ran, killed outright after its Redis and a worker were killed and restarted; then
    started again on what is left."""
    env = embedded_env
    api_url = f"http://127.0.0.1:{env['TRIOPS_API_PORT']}"
    log = tmp_path / "up.log"

    first = start_up(env, log)
    try:
        wait_healthy(api_url, {}, timeout_s=90)
        with TriopsClient(api_url, env["TRIOPS_API_TOKEN"]) as client:
            done = client.wait(
                client.submit("system.echo", {"payload": "first"})["id"], timeout_s=30
            )
        assert done["status"] == "succeeded"
    finally:
        leftovers = stop_up(first, log)
    assert not leftovers, f"processes left behind: {leftovers}"
    assert "all stopped" in log.read_text()

    # With only the embedded Redis running, queue a job: its message waits in the AOF.
    settings = Settings.from_env(env)
    redis = subprocess.Popen([sys.executable, "-m", "workers.cli", "redis"], env=env)
    try:
        deadline = time.monotonic() + 20
        while not settings.redis_socket.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        with session_scope(settings) as session:
            queued, _ = submit(
                session=session,
                producer=create_celery(settings),
                kind_name="system.echo",
                params={"payload": "waited"},
            )
    finally:
        redis.send_signal(signal.SIGTERM)
        redis.wait(timeout=20)
        dispose_engines()

    up = start_up(env, log)
    try:
        wait_healthy(api_url, {}, timeout_s=90)
        with TriopsClient(api_url, env["TRIOPS_API_TOKEN"]) as client:
            waited = client.wait(queued.id, timeout_s=30)
            listed = {j["id"] for j in client.jobs(limit=50)["jobs"]}
        assert waited["status"] == "succeeded"
        assert waited["result"]["payload"] == "waited"
        assert done["id"] in listed
        # The embedded Redis killed: up restarts it from its append-only file, and the
        # workers reconnect on their own. A worker's main process killed: up starts it
        # again.
        os.kill(child_pid(up.pid, "redis-server"), signal.SIGKILL)
        os.kill(child_pid(up.pid, "worker aiops"), signal.SIGKILL)
        restarted = time.monotonic()
        with TriopsClient(api_url, env["TRIOPS_API_TOKEN"], timeout_s=10) as client:
            deadline = restarted + 90
            after: dict[str, object] = {}
            while time.monotonic() < deadline:
                try:
                    after = client.wait(
                        client.submit("system.echo", {"payload": "after"})["id"], timeout_s=30
                    )
                    break
                except Exception:  # the API answers 503 while Redis is down
                    time.sleep(1)
        assert after.get("status") == "succeeded", log.read_text()[-3000:]
        # Another pool may have run the echo: wait for up to report the worker back.
        wanted = (
            "redis exited",
            "redis: restarted",
            "worker-aiops exited",
            "restarted worker-aiops",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(w in log.read_text() for w in wanted):
            time.sleep(0.5)
        text = log.read_text()
        assert all(w in text for w in wanted), text[-3000:]
        family = descendants(up.pid)
    finally:
        # up killed outright: its children get the parent-death signal and go too.
        up.kill()
        up.wait()
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and any(alive(pid) for pid in family):
        time.sleep(0.5)
    assert not [pid for pid in family if alive(pid)], "children outlived a killed up"
    # And a new up starts cleanly on the same home (no port or socket left taken).
    again = start_up(env, log)
    try:
        wait_healthy(api_url, {}, timeout_s=90)
    finally:
        assert not stop_up(again, log)
