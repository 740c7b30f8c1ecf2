"""Every shell example of the documentation runs, as written, against a live stack.

The stack (API and one worker per pool) is the docs' own: its own `TRIOPS_HOME`, and on
real services its own database (`triops_docs`, re-created) and Redis database (14,
flushed), so nothing it leaves behind meets the rest of the suite. Each page runs in one
bash process with the stack's settings in its environment, so `triops env` prints them
and the pages need no change. See `docs_examples.py` for the rules a page follows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.stack import Proc, free_port
from core.config import Settings, normalise_database_url
from tests.conftest import skip_or_fail
from tests.integration.conftest import spawn, wait_healthy
from tests.integration.docs_examples import (
    ENV_LINE,
    REPO,
    doc_pages,
    failure_report,
    first_command,
    missing_example_paths,
    relative,
    run_page,
    runnable_blocks,
)

pytestmark = pytest.mark.integration

DOCS_DATABASE = "triops_docs"
DOCS_REDIS_DB = 14
TOKEN = "docs-token-0123456789"
PAGE_TIMEOUT_S = 150.0

PAGES = [p for p in doc_pages() if runnable_blocks(p)]


@dataclass
class DocsStack:
    env: dict[str, str]  # what a page's bash process sees
    procs: dict[str, Proc]
    logs: Path


def docs_database_url(url: str) -> str:
    """The docs' own database on the server of `url`, dropped and created anew."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(normalise_database_url(url))
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DOCS_DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DOCS_DATABASE}"'))
    except Exception as exc:
        skip_or_fail(f"database not reachable: {exc}")
    finally:
        engine.dispose()
    return server.set(database=DOCS_DATABASE).render_as_string(hide_password=False)


def docs_redis_url(url: str) -> str:
    """The same Redis server, database 14, flushed."""
    import redis

    parts = urlsplit(url)
    own = urlunsplit((parts.scheme, parts.netloc, f"/{DOCS_REDIS_DB}", parts.query, ""))
    try:
        client = redis.Redis.from_url(own, socket_timeout=5)
        client.flushdb()
        client.close()
    except Exception as exc:
        skip_or_fail(f"redis not reachable: {exc}")
    return own


@pytest.fixture(scope="module")
def docs_stack() -> Iterator[DocsStack]:
    bin_dir = REPO / ".venv" / "bin"
    if not (bin_dir / "triops").exists():
        pytest.fail(f"the docs call .venv/bin/triops: run `make install` ({bin_dir} is missing)")
    # A short home: the embedded Redis listens on a unix socket inside it.
    home = Path(tempfile.mkdtemp(prefix="triops-docs-", dir="/tmp"))
    logs = home / "test-logs"
    logs.mkdir()
    port = free_port()
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRIOPS_") and k not in ("TOKEN", "API")
    }
    settings_env = {
        "TRIOPS_HOME": str(home),
        "TRIOPS_API_TOKEN": TOKEN,
        "TRIOPS_API_PORT": str(port),
        "TRIOPS_DATABASE_URL": (
            docs_database_url(os.environ["TRIOPS_DATABASE_URL"])
            if os.environ.get("TRIOPS_DATABASE_URL")
            else ""
        ),
        "TRIOPS_REDIS_URL": (
            docs_redis_url(os.environ["TRIOPS_REDIS_URL"])
            if os.environ.get("TRIOPS_REDIS_URL")
            else ""
        ),
    }
    settings = Settings.from_env(settings_env)
    redis_process = None
    if settings.uses_embedded_redis:
        from workers import embedded_redis

        redis_process = embedded_redis.start(home, settings.redis_socket)
    env = {
        **inherited,
        **settings.process_env(),
        "TRIOPS_API_URL": settings.api_url,
        "TRIOPS_AIOPS_CONCURRENCY": "1",
        "TRIOPS_DATAOPS_CONCURRENCY": "1",
    }
    procs: dict[str, Proc] = {}
    try:
        subprocess.run(
            [sys.executable, "-m", "workers.cli", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        procs["api"] = spawn("api", ["api"], env, logs)
        for pool in ("aiops", "mlops", "dataops"):
            procs[f"worker-{pool}"] = spawn(f"worker-{pool}", ["worker", pool], env, logs)
        wait_healthy(settings.api_url, procs)
        page_env = {
            **inherited,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "TRIOPS_HOME": str(home),
            "TRIOPS_API_PORT": str(port),
            "TRIOPS_API_URL": settings.api_url,
            "TRIOPS_API_TOKEN": TOKEN,
            "TRIOPS_DATABASE_URL": settings.database_url,
            "TRIOPS_REDIS_URL": settings.redis_url,
        }
        yield DocsStack(env=page_env, procs=procs, logs=logs)
    finally:
        for proc in procs.values():
            proc.stop()
        if redis_process is not None:
            from workers import embedded_redis

            embedded_redis.stop(redis_process)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.timeout(PAGE_TIMEOUT_S + 120)
@pytest.mark.parametrize("page", PAGES, ids=[relative(p) for p in PAGES])
def test_page_examples_run(page: Path, docs_stack: DocsStack, tmp_path: Path) -> None:
    blocks = runnable_blocks(page)
    run = run_page(blocks, docs_stack.env, tmp_path / "blocks", timeout_s=PAGE_TIMEOUT_S)
    if not run.ok:
        dead = [p.name for p in docs_stack.procs.values() if p.process.poll() is not None]
        note = f"\n(stopped stack processes: {dead}; logs in {docs_stack.logs})" if dead else ""
        pytest.fail(failure_report(blocks, run, PAGE_TIMEOUT_S) + note, pytrace=False)


def test_pages_with_examples_start_as_a_user_does() -> None:
    """The first run block of a page sets the environment as a second shell beside
    `make demo` does, so a reader can start on any page."""
    wrong = {
        relative(page): first_command(runnable_blocks(page)[0])
        for page in PAGES
        if first_command(runnable_blocks(page)[0]) != ENV_LINE
    }
    assert not wrong, f"pages whose first sh block does not begin with {ENV_LINE}: {wrong}"


def test_example_files_named_in_the_docs_exist() -> None:
    missing = {
        relative(page): found
        for page in doc_pages()
        if (found := missing_example_paths(page.read_text()))
    }
    assert not missing, (
        f"files under examples/ named in the docs but not in the repository: {missing}"
    )


def test_readme_is_a_front_door() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert len(readme.encode()) < 12 * 1024, "README.md is the front door: under 12 KB"
