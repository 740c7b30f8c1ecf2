"""Shared fixtures: the labelled data in bench/data, and the real services the suite runs on.

`TRIOPS_DATABASE_URL` / `TRIOPS_REDIS_URL` point the suite at real services (CI uses
the machine's PostgreSQL and Redis). Unset, it runs on the embedded defaults: SQLite
and an embedded redis-server, both under a temporary `TRIOPS_HOME`. A service that is
configured but unreachable skips the tests that need it locally and fails them in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bench.data import benchmarks_dir as _benchmarks_dir
from bench.stack import free_port
from core.config import Settings
from core.db import dispose_engines, get_engine
from core.migrate import upgrade
from core.tables import Base
from tests.integration.conftest import Stack, WebhookSink, spawn, wait_healthy
from tests.object_store import S3Server, start_s3_server

CI = bool(os.environ.get("CI"))


def skip_or_fail(reason: str) -> None:
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """The labelled data shipped in bench/data (Loghub, NAB); missing data fails, never skips."""
    path = _benchmarks_dir()
    for part in ("loghub", "nab", "score.py"):
        if not (path / part).exists():
            pytest.fail(f"benchmark data {path / part} is missing from the checkout (bench/data)")
    return path


@pytest.fixture(scope="session")
def triops_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (moto) on loopback, for the session."""
    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3"))
    except (RuntimeError, OSError) as exc:
        skip_or_fail(f"no S3 server for the object-store tests: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def embedded_redis(triops_home: Path) -> Iterator[subprocess.Popen[bytes] | None]:
    """An embedded redis-server for the session, unless TRIOPS_REDIS_URL names one."""
    if os.environ.get("TRIOPS_REDIS_URL"):
        yield None
        return
    from workers import embedded_redis as er

    process = er.start(triops_home, triops_home / "redis.sock")
    yield process
    er.stop(process)


@pytest.fixture(scope="session")
def settings(triops_home: Path, embedded_redis: object) -> Iterator[Settings]:
    """Settings of the suite: the configured services, or the embedded defaults."""
    environ = {
        "TRIOPS_HOME": str(triops_home),
        "TRIOPS_API_TOKEN": "test-token-0123456789",
        "TRIOPS_AIOPS_CONCURRENCY": "2",
        "TRIOPS_DATABASE_URL": os.environ.get("TRIOPS_DATABASE_URL", ""),
        "TRIOPS_REDIS_URL": os.environ.get("TRIOPS_REDIS_URL", ""),
    }
    configured = Settings.from_env(environ)
    _reset_database(configured)
    _reset_redis(configured)
    yield configured
    dispose_engines()


def _reset_database(settings: Settings) -> None:
    try:
        with get_engine(settings).begin() as conn:
            if not settings.uses_sqlite:
                # The test database belongs to the suite: start from an empty schema,
                # warehouse tables (wh_*) of earlier runs included.
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
                Base.metadata.drop_all(conn)
                for name in inspect(conn).get_table_names():
                    if name.startswith("wh_"):
                        conn.execute(text(f'DROP TABLE "{name}"'))
    except Exception as exc:
        skip_or_fail(f"database not reachable: {exc}")
    dispose_engines()
    upgrade(settings)


def _reset_redis(settings: Settings) -> None:
    from core.broker import create_celery

    try:
        with create_celery(settings).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
            conn.default_channel.client.flushdb()
    except Exception as exc:
        skip_or_fail(f"redis not reachable: {exc}")


def clear_tables(settings: Settings) -> None:
    with get_engine(settings).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


# The live stack (API + one worker per pool as real processes) is one per session, shared
# by every package that needs it (tests/integration, tests/ui): its helpers live in
# tests/integration/conftest.py.


VAULT_PASSWORD = "vault-pw-7c1e94d2b8"
FLOWER_PASSWORD = "flower-pw-3a9f0e6d21"
VAULT_DSN = f"postgresql://vault:{VAULT_PASSWORD}@127.0.0.1:5432/secwk_vault_missing"


@pytest.fixture(scope="session")
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink()
    yield sink
    sink.server.shutdown()


@pytest.fixture(scope="session")
def stack(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, webhook_sink: WebhookSink
) -> Iterator[Stack]:
    """The API and one worker per pool, as separate processes, on the suite's services."""
    logs = tmp_path_factory.mktemp("logs")
    port = free_port()
    env = {
        **os.environ,
        **settings.process_env(),
        "TRIOPS_API_PORT": str(port),
        "TRIOPS_AIOPS_CONCURRENCY": "2",
        "TRIOPS_DATAOPS_CONCURRENCY": "1",
        "TRIOPS_INCIDENT_WEBHOOK_URL": webhook_sink.url,
        "TRIOPS_RETRY_BACKOFF_S": "0.5",
        "TRIOPS_ETL_CHUNK_ROWS": "1000",  # inputs of over 1,000 rows are read in chunks
        # "vault" holds a password no log line, job row or message may show
        # (tests/integration/test_secrets.py).
        "TRIOPS_SQL_CONNECTIONS": json.dumps({"suite": settings.database_url, "vault": VAULT_DSN}),
        "TRIOPS_FLOWER_BASIC_AUTH": f"ops:{FLOWER_PASSWORD}",
        # A kind added the way docs/design.md says (tests/integration/walkthrough/).
        "TRIOPS_PLUGINS": json.dumps(["tests.integration.walkthrough.kinds"]),
    }
    procs = {
        "api": spawn("api", ["api"], env, logs),
        **{
            f"worker-{pool}": spawn(f"worker-{pool}", ["worker", pool], env, logs)
            for pool in ("aiops", "mlops", "dataops")
        },
    }
    api_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(api_url, procs)
        yield Stack(settings=settings, env=env, api_url=api_url, procs=procs, logs=logs)
    finally:
        for proc in procs.values():
            proc.stop()
