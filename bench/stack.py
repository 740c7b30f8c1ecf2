"""The processes a speed benchmark runs against: the triops API and workers, as `triops api`
and `triops worker` start them, and a bare Celery worker on the same Redis.

Both sides get the same number of prefork processes (`workers`, default: the cores), the
same broker, and their own queue. The bare side stores results in another Redis database
(`result_url`; `BENCH_CELERY_RESULT_URL` overrides it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from core.config import Settings
from core.migrate import upgrade

TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - throwaway local servers
BARE_QUEUE = "bench-bare"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def result_url(broker_url: str) -> str:
    """The bare Celery result backend: `BENCH_CELERY_RESULT_URL`, else the broker's Redis
    with the next database number, or the one before for database 15 (results never
    share a keyspace with the queues)."""
    if os.environ.get("BENCH_CELERY_RESULT_URL"):
        return os.environ["BENCH_CELERY_RESULT_URL"]
    parts = urlsplit(broker_url)
    if parts.scheme == "redis+socket":
        return f"redis+socket://{parts.path}?virtual_host=1"
    db = int(parts.path.strip("/") or 0)
    # Redis has databases 0-15 unless configured otherwise: after the last, the one before.
    other = db + 1 if db < 15 else db - 1
    return urlunsplit((parts.scheme, parts.netloc, f"/{other}", parts.query, ""))


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self, timeout_s: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def spawn(name: str, argv: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, *argv],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, process, log)


@dataclass
class Services:
    """The settings every process of a benchmark run shares."""

    settings: Settings
    env: dict[str, str]
    home: Path
    workers: int

    @property
    def broker_url(self) -> str:
        return self.settings.redis_url

    @property
    def result_url(self) -> str:
        return result_url(self.settings.redis_url)


@contextlib.contextmanager
def services(workers: int | None = None) -> Iterator[Services]:
    """The configured database and Redis (`TRIOPS_DATABASE_URL`, `TRIOPS_REDIS_URL`), or
    the embedded defaults (SQLite and an embedded redis-server) in a temporary home."""
    from workers import embedded_redis

    workers = workers or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="triops-bench-") as tmp:
        home = Path(tmp)
        environ = {
            "TRIOPS_HOME": str(home),
            "TRIOPS_API_TOKEN": TOKEN,
            "TRIOPS_DATABASE_URL": os.environ.get("TRIOPS_DATABASE_URL", ""),
            "TRIOPS_REDIS_URL": os.environ.get("TRIOPS_REDIS_URL", ""),
        }
        settings = Settings.from_env(environ)
        redis = None
        if not os.environ.get("TRIOPS_REDIS_URL"):
            redis = embedded_redis.start(home, settings.redis_socket)
        try:
            upgrade(settings)
            env = {
                **os.environ,
                **settings.process_env(),
                "TRIOPS_API_TOKEN": TOKEN,
                "TRIOPS_AIOPS_CONCURRENCY": str(workers),
                "TRIOPS_LOG_LEVEL": "WARNING",
            }
            yield Services(settings=settings, env=env, home=home, workers=workers)
        finally:
            if redis is not None:
                embedded_redis.stop(redis)


@dataclass
class Triops:
    api_url: str
    procs: list[Proc]

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def triops(svc: Services, *, with_worker: bool = True) -> Iterator[Triops]:
    """`triops api` and one `triops worker aiops` of `svc.workers` processes (the aiops
    pool also consumes the system queue, where `system.echo` goes)."""
    port = free_port()
    env = {**svc.env, "TRIOPS_API_PORT": str(port)}
    procs = [spawn("api", ["-m", "workers.cli", "api"], env, svc.home)]
    if with_worker:
        argv = ["-m", "workers.cli", "worker", "aiops", "--loglevel", "WARNING"]
        procs.append(spawn("worker-aiops", argv, env, svc.home))
    api_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(api_url, procs, need_worker=with_worker)
        yield Triops(api_url, procs)
    finally:
        for proc in procs:
            proc.stop()


def _wait_healthy(api_url: str, procs: list[Proc], *, need_worker: bool) -> None:
    deadline = time.monotonic() + 90
    body: object = None
    while time.monotonic() < deadline:
        for proc in procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited early:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            body = httpx.get(f"{api_url}/api/v1/health", timeout=5).json()
            if _ready(body, need_worker=need_worker):
                return
        time.sleep(0.3)
    raise RuntimeError(f"triops not ready after 90 s: {body}")


def _ready(body: object, *, need_worker: bool) -> bool:
    if not isinstance(body, dict) or not body.get("database", {}).get("ok"):
        return False
    return not need_worker or bool(body.get("workers", {}).get("aiops"))


@contextlib.contextmanager
def bare_celery(svc: Services) -> Iterator[Proc]:
    """A plain `celery worker` of `svc.workers` prefork processes on the bare app."""
    env = {
        **svc.env,
        "BENCH_CELERY_BROKER_URL": svc.broker_url,
        "BENCH_CELERY_RESULT_URL": svc.result_url,
    }
    argv = [
        "-m",
        "celery",
        "-A",
        "bench.bare_celery",
        "worker",
        f"--queues={BARE_QUEUE}",
        f"--concurrency={svc.workers}",
        "--pool=prefork",
        "--prefetch-multiplier=4",
        "--without-mingle",
        "--without-gossip",
        "--loglevel=WARNING",
        f"--hostname=bench-bare-{os.getpid()}@%h",
    ]
    proc = spawn("bare-celery", argv, env, svc.home)
    try:
        _wait_bare(svc, proc)
        yield proc
    finally:
        proc.stop()


def _wait_bare(svc: Services, proc: Proc) -> None:
    from bench.bare_celery import make_app

    app = make_app(svc.broker_url, svc.result_url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"bare celery worker exited early:\n{proc.tail()}")
        with contextlib.suppress(Exception):
            if app.tasks["bench.noop"].apply_async(queue=BARE_QUEUE).get(timeout=2):
                return
    raise RuntimeError(f"bare celery worker not ready after 60 s:\n{proc.tail()}")
