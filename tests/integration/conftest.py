"""Real processes: one Celery worker per pool and the API under uvicorn, as `triops` runs them."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench.stack import Proc
from bench.stack import spawn as spawn_process
from core.broker import create_celery
from core.config import Settings
from workers.client import TriopsClient

TOKEN = "test-token-0123456789"


def spawn(name: str, args: list[str], env: dict[str, str], logs: Path) -> Proc:
    """`triops ARGS` as a process of its own session, its output in `logs/NAME.log`."""
    return spawn_process(name, ["-m", "workers.cli", *args], env, logs)


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    api_url: str
    procs: dict[str, Proc]
    logs: Path

    def client(self) -> TriopsClient:
        return TriopsClient(self.api_url, TOKEN)

    def log_tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.procs[name].log.read_text(errors="replace").splitlines()[-lines:])


def wait_healthy(api_url: str, procs: dict[str, Proc], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    body: object = None
    while time.monotonic() < deadline:
        for proc in procs.values():
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log.read_text()[-3000:]}")
        try:
            body = httpx.get(f"{api_url}/api/v1/health", timeout=5).json()
            if isinstance(body, dict) and body.get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"stack not healthy after {timeout_s} s: {body}")


class WebhookSink:
    """A loopback HTTP receiver that fails each notification's first delivery, then accepts."""

    def __init__(self) -> None:
        self.received: list[dict[str, object]] = []
        self.failed_once: set[str] = set()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key", "")
                sink.received.append({"key": key, "body": body})
                code = 200 if key in sink.failed_once else 503
                sink.failed_once.add(key)
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def active_task_pid(stack: Stack, job_id: str, timeout_s: float = 20.0) -> int:
    """The pid of the pool process running the job (waiting for it to start)."""
    app = create_celery(stack.settings)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for tasks in (app.control.inspect(timeout=1.0).active() or {}).values():
            for task in tasks:
                if task["id"] == job_id and task.get("worker_pid"):
                    return int(task["worker_pid"])
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never became active")
