"""Real processes under faults: a stack of its own (API + one worker per pool) on a private
redis-server (so killing, restarting or cutting it disturbs nothing else), the suite's
database, fault drills allowed. Each test is bounded in time."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from bench.stack import Proc, free_port
from core.broker import create_celery
from core.config import Settings
from tests.conftest import skip_or_fail
from tests.integration.conftest import TOKEN, spawn, wait_healthy
from workers import embedded_redis
from workers.client import TriopsClient

POOLS = ("aiops", "mlops", "dataops")
FIGURES = Path(__file__).resolve().parents[2] / "var" / "faults" / "figures.json"


def record(test: str, **figures: float | int | str) -> None:
    """Keep a fault test's figures in var/faults/figures.json (the table in
    docs/reliability.md is read from a run of `make faults`)."""
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    rounded = {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}
    data[test] = {**rounded, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    FIGURES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@dataclass
class PrivateRedis:
    """A redis-server of the test's own, on a unix socket, append-only (as `triops up`)."""

    home: Path
    process: Any = None

    @property
    def socket(self) -> Path:
        return self.home / "redis.sock"

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def start(self) -> None:
        self.process = embedded_redis.start(self.home, self.socket)

    def kill(self) -> None:
        """SIGKILL: no shutdown, what the append-only file has is all that survives."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None:
            embedded_redis.stop(self.process)


@dataclass
class FaultStack:
    settings: Settings
    env: dict[str, str]
    api_url: str
    logs: Path
    redis: PrivateRedis
    procs: dict[str, Proc] = field(default_factory=dict)
    stopped: bool = False
    """Its processes were stopped (a test ran its own behind a proxy): started again
    before the next test that needs them."""

    def restart(self) -> None:
        self.procs["api"] = spawn("api", ["api"], self.env, self.logs)
        for pool in POOLS:
            self.start_worker(pool)
        wait_healthy(self.api_url, self.procs)
        self.stopped = False

    def client(self, timeout_s: float = 30.0) -> TriopsClient:
        return TriopsClient(self.api_url, TOKEN, timeout_s=timeout_s)

    def start_worker(self, pool: str, name: str | None = None) -> Proc:
        name = name or f"worker-{pool}"
        self.procs[name] = spawn(name, ["worker", pool], self.env, self.logs)
        return self.procs[name]

    def wait_workers(self, pools: tuple[str, ...] = POOLS, timeout_s: float = 60.0) -> None:
        """Until every pool answers a ping through the API's health."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                body = httpx.get(f"{self.api_url}/api/v1/health", timeout=5).json()
                if all(body.get("workers", {}).get(p) for p in pools):
                    return
            time.sleep(0.5)
        raise AssertionError(f"workers {pools} not up after {timeout_s} s")

    def celery(self) -> Any:
        """A Celery app on this stack's broker (control commands, inspection)."""
        return create_celery(self.settings.model_copy(update={"redis_url": self.redis.url}))

    def active_pid(self, job_id: str, timeout_s: float = 30.0) -> int:
        """The pid of the pool process running the job (waiting for it to start)."""
        app = self.celery()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for tasks in (app.control.inspect(timeout=1.0).active() or {}).values():
                for task in tasks:
                    if task["id"] == job_id and task.get("worker_pid"):
                        return int(task["worker_pid"])
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} never became active")

    def kill_when_active(self, job_ids: list[str], timeout_s: float = 30.0) -> None:
        """SIGKILL the pool process of each job the moment it is seen running: one
        inspect round for all of them, so a short job is not missed while another waits."""
        app = self.celery()
        waiting = set(job_ids)
        deadline = time.monotonic() + timeout_s
        while waiting and time.monotonic() < deadline:
            for tasks in (app.control.inspect(timeout=0.5).active() or {}).values():
                for task in tasks:
                    if task["id"] in waiting and task.get("worker_pid"):
                        kill(int(task["worker_pid"]))
                        waiting.discard(task["id"])
            time.sleep(0.1)
        assert not waiting, f"jobs never became active: {sorted(waiting)}"

    def main_pid(self, name: str) -> int:
        return self.procs[name].process.pid

    def pool_pids(self, name: str) -> list[int]:
        return [c.pid for c in psutil.Process(self.main_pid(name)).children()]

    def succeeded_lines(self) -> dict[str, int]:
        """How many times each job id logged 'job succeeded', over every worker log."""
        counts: dict[str, int] = {}
        for log in self.logs.glob("worker-*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if not line.startswith("{"):
                    continue
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("status") == "succeeded" and record.get("job_id"):
                        counts[record["job_id"]] = counts.get(record["job_id"], 0) + 1
        return counts


def stop_all(procs: dict[str, Proc]) -> None:
    for proc in procs.values():
        proc.stop()


@pytest.fixture(scope="session")
def fault_stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    logs = tmp_path_factory.mktemp("fault-logs")
    home = Path(tmp_path_factory.mktemp("fault-home"))
    redis = PrivateRedis(Path(tmp_path_factory.mktemp("fault-redis")))
    try:
        redis.start()
    except embedded_redis.EmbeddedRedisError as exc:
        skip_or_fail(f"no redis-server for the fault tests: {exc}")
    port = free_port()
    env = {
        **os.environ,
        **settings.process_env(),
        "TRIOPS_HOME": str(home),
        "TRIOPS_REDIS_URL": redis.url,
        "TRIOPS_API_PORT": str(port),
        "TRIOPS_AIOPS_CONCURRENCY": "2",
        "TRIOPS_DATAOPS_CONCURRENCY": "1",
        "TRIOPS_RETRY_BACKOFF_S": "0.5",
        "TRIOPS_RETRY_MAX_BACKOFF_S": "5",
        "TRIOPS_FAULT_DRILLS": "1",
        "TRIOPS_LOG_JSON": "1",
    }
    stack = FaultStack(settings, env, f"http://127.0.0.1:{port}", logs, redis)
    stack.procs["api"] = spawn("api", ["api"], env, logs)
    for pool in POOLS:
        stack.start_worker(pool)
    try:
        wait_healthy(stack.api_url, stack.procs)
        yield stack
    finally:
        stop_all(stack.procs)
        redis.stop()


@pytest.fixture(autouse=True)
def _fault_stack_running(request: pytest.FixtureRequest) -> None:
    if "fault_stack" in request.fixturenames:
        stack: FaultStack = request.getfixturevalue("fault_stack")
        if stack.stopped:
            stack.restart()


LAST = "test_the_database_away_for_a_while"
"""Runs after every other fault test: the stack it stopped is then started again only if
a later test needs it (none does), saving a restart of every process."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    last = [item for item in items if item.name.startswith(LAST)]
    faults = [i for i, item in enumerate(items) if "tests/faults/" in item.nodeid]
    if not last or not faults:
        return
    rest = [item for item in items if item not in last]
    end = max(i for i, item in enumerate(rest) if "tests/faults/" in item.nodeid)
    items[:] = rest[: end + 1] + last + rest[end + 1 :]


def wait_all(client: TriopsClient, ids: list[str], timeout_s: float) -> list[dict[str, Any]]:
    """Every job, once final; fails naming the ones still open at the deadline."""
    deadline = time.monotonic() + timeout_s
    open_ids = list(ids)
    while open_ids and time.monotonic() < deadline:
        open_ids = [
            j
            for j in open_ids
            if client.job(j)["status"] not in ("succeeded", "failed", "cancelled")
        ]
        if open_ids:
            time.sleep(0.5)
    assert not open_ids, f"{len(open_ids)} jobs not final after {timeout_s} s: {open_ids[:5]}"
    return [client.job(j) for j in ids]


def wait_running(client: TriopsClient, ids: list[str], count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sum(client.job(j)["status"] == "running" for j in ids) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} of the jobs started within {timeout_s} s")


class TcpCut:
    """A loopback TCP proxy that a test can cut (every connection closed, new ones
    refused) and restore: a database that goes away and comes back."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            for a, b in self.pairs:
                for sock in (a, b):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                        sock.close()
            self.pairs.clear()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


def worker_rss(stack: FaultStack) -> dict[str, int]:
    """Resident memory of each worker: its main process and its pool processes."""
    out = {}
    for name, proc in stack.procs.items():
        if name.startswith("worker-"):
            main = psutil.Process(proc.process.pid)
            out[name] = sum(p.memory_info().rss for p in [main, *main.children(recursive=True)])
    return out


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
