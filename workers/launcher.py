"""`triops up`: the whole stack in the foreground, and every child stopped on the way out.

Order: migrations, the embedded Redis (when no TRIOPS_REDIS_URL is set), then the API,
one worker per pool, beat and Flower as child processes. Each child runs in its own
session so a Ctrl-C reaches only us; we then stop the children in order (SIGTERM, then
SIGKILL of the whole group after a grace period) and Redis last.

Every child — Redis included — is supervised: one that exits on its own is restarted
after a growing delay, and logged; the stack gives up only when a child crashes more
than its budget within a window (`domain/supervision.py`), so an occasional crash never
stops it. Children die with `up` however it dies (Linux's parent-death signal), so a
killed `up` leaves nothing behind and a new one starts cleanly.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from core.config import Settings
from core.migrate import upgrade
from domain.supervision import RestartPolicy
from workers import embedded_redis

STOP_GRACE_S = 20.0
PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn`: the child gets SIGTERM when this process dies, however it dies."""
    parent = os.getpid()

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    started_at: float = 0.0
    restart_at: float | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, deadline: float) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Whatever is left of the group (pool children included) goes now.
        self.signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
        if self.log is not None:
            self.log.close()


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address) only listens on this machine."""
    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name (or 0.0.0.0's like): reachable from elsewhere


def flower_refusal(settings: Settings) -> str | None:
    """Why Flower must not start with these settings, or None when it may.

    Flower's REST API can revoke and terminate any task and read every task's arguments:
    off the loopback interface it needs basic auth."""
    auth = settings.flower_basic_auth
    if auth is not None:
        user, colon, password = auth.get_secret_value().partition(":")
        if not user or not colon or not password:
            return "TRIOPS_FLOWER_BASIC_AUTH must be user:password (both non-empty)"
        return None
    if not is_loopback(settings.flower_host):
        return (
            f"Flower would listen on {settings.flower_host} without basic auth: set "
            "TRIOPS_FLOWER_BASIC_AUTH=user:password, or TRIOPS_FLOWER_HOST=127.0.0.1"
        )
    return None


def child_commands(settings: Settings) -> list[tuple[str, list[str]]]:
    cli = [sys.executable, "-m", "workers.cli"]
    return [
        ("api", [*cli, "api"]),
        ("worker-aiops", [*cli, "worker", "aiops"]),
        ("worker-mlops", [*cli, "worker", "mlops"]),
        ("worker-dataops", [*cli, "worker", "dataops"]),
        ("beat", [*cli, "beat"]),
        ("flower", [*cli, "flower"]),
    ]


class Stack:
    def __init__(self, settings: Settings, *, demo: bool = False) -> None:
        self.settings = settings
        self.demo = demo
        self.stopping = threading.Event()
        self.redis: subprocess.Popen[bytes] | None = None
        self.redis_policy = RestartPolicy()
        self.redis_started_at = 0.0
        logs = settings.home / "logs"
        self.children = [
            Child(name, argv, logs / f"{name}.log") for name, argv in child_commands(settings)
        ]

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        say(f"triops home: {settings.home}")
        upgrade(settings)
        say("database: migrated")
        try:
            if settings.uses_embedded_redis:
                self._start_redis()
                say(f"redis: embedded, {settings.redis_socket} (append-only)")
            env = {**os.environ, **settings.process_env()}
            for child in self.children:
                child.start(env)
                say(f"started {child.name} (pid {child.process.pid if child.process else '?'})")
            self._print_banner()
            if self.demo:
                threading.Thread(target=self._run_demo, daemon=True).start()
            self._supervise(env)
        finally:
            self.shutdown()
        return 0

    def _run_demo(self) -> None:
        from workers.demo import run_demo

        try:
            run_demo(self.settings, stop=self.stopping, say=say)
        except Exception as exc:  # the stack stays up; the user sees why the demo stopped
            say(f"demo failed: {exc}")

    def _start_redis(self) -> None:
        self.redis = embedded_redis.start(
            self.settings.home, self.settings.redis_socket, preexec_fn=die_with_parent()
        )
        self.redis_started_at = time.monotonic()

    def _supervise(self, env: dict[str, str]) -> None:
        while not self.stopping.wait(0.5):
            if not self._supervise_redis():
                break
            for child in self.children:
                if self.stopping.is_set():
                    break
                self._supervise_child(child, env)

    def _supervise_redis(self) -> bool:
        """Restart the embedded Redis when it died (its append-only file keeps the
        queues); False when it keeps dying."""
        if self.redis is None or self.redis.poll() is None:
            return True
        now = time.monotonic()
        delay = self.redis_policy.on_exit(now=now, started_at=self.redis_started_at)
        if delay is None:
            say("redis keeps exiting; stopping the stack (see logs/redis.log)")
            self.stopping.set()
            return False
        say(f"redis exited ({self.redis.returncode}); restarting in {delay:.0f} s")
        if self.stopping.wait(delay):
            return False
        try:
            self._start_redis()
        except embedded_redis.EmbeddedRedisError as exc:
            say(f"redis did not restart: {exc}")
            self.redis_started_at = time.monotonic()
            return True
        say("redis: restarted; workers reconnect on their own")
        return True

    def _supervise_child(self, child: Child, env: dict[str, str]) -> None:
        if child.alive():
            return
        now = time.monotonic()
        if child.restart_at is None:
            delay = child.policy.on_exit(now=now, started_at=child.started_at)
            if delay is None:
                say(
                    f"{child.name} exited ({child.returncode}) {child.policy.max_restarts} "
                    f"times within {child.policy.window_s:.0f} s; stopping the stack "
                    f"(see {child.log_path})"
                )
                self.stopping.set()
                return
            say(
                f"{child.name} exited ({child.returncode}); restarting in {delay:.0f} s "
                f"(see {child.log_path})"
            )
            if child.log is not None:
                child.log.close()
            child.restart_at = now + delay
        if now >= child.restart_at:
            child.start(env)
            say(f"restarted {child.name} (pid {child.process.pid if child.process else '?'})")

    def shutdown(self) -> None:
        say("stopping...")
        # Beat and the API first (no new work), then workers (warm shutdown), Flower last.
        order = ["beat", "api", "worker-aiops", "worker-mlops", "worker-dataops", "flower"]
        by_name = {child.name: child for child in self.children}
        for name in order:
            child = by_name[name]
            if child.alive() and child.process is not None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for name in order:
            by_name[name].stop(deadline)
        if self.redis is not None:
            embedded_redis.stop(self.redis)
            say("redis: stopped")
        say("all stopped")

    def _print_banner(self) -> None:
        s = self.settings
        say("")
        say(f"  Console    {s.api_url}/ui  (sign in with the API token)")
        say(f"  API        {s.api_url}/api/v1  (docs: {s.api_url}/docs)")
        say(f"  Flower     http://{s.flower_host}:{s.flower_port}")
        say(f"  API token  {s.admin_token()}   (also in {s.token_file})")
        say(f"  logs       {s.home / 'logs'}")
        say("  Ctrl-C stops everything.")
        say("")
        say('  In another shell: eval "$(.venv/bin/triops env)"  (sets TOKEN and API), or:')
        for line in s.export_lines():
            say(f"    {line}")
        say("")


def say(message: str) -> None:
    print(f"[triops] {message}", flush=True)
