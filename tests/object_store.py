"""A real S3-compatible server on loopback for the object-store tests: moto's server,
started as a process of its own, as a remote store would be."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import fsspec

ACCESS_KEY_ID = "triops-test-key"
SECRET_ACCESS_KEY = "triops-test-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    process: subprocess.Popen[bytes]
    endpoint_url: str
    log: Path

    def env(self) -> dict[str, str]:
        """The settings every host needs to reach this store."""
        return {
            "TRIOPS_S3_ENDPOINT_URL": self.endpoint_url,
            "TRIOPS_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "TRIOPS_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }

    def filesystem(self) -> fsspec.AbstractFileSystem:
        return fsspec.filesystem(
            "s3",
            key=ACCESS_KEY_ID,
            secret=SECRET_ACCESS_KEY,
            client_kwargs={"endpoint_url": self.endpoint_url},
            use_listings_cache=False,
            skip_instance_cache=True,
        )

    def new_bucket(self) -> str:
        name = f"triops-{uuid.uuid4().hex[:12]}"
        self.filesystem().mkdir(name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def start_s3_server(logs: Path, timeout_s: float = 30.0) -> S3Server:
    """moto's server on a free loopback port, ready to answer."""
    port = _free_port()
    log = logs / "moto.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = S3Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited early:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"moto server not listening after {timeout_s} s")
