"""SQLAlchemy engine and sessions, one engine per process.

Engines are created lazily and re-created after a fork, so Celery's prefork
children never share a connection pool with their parent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from core.config import Settings

_lock = threading.Lock()
_engines: dict[tuple[int, str, bool, bool], Engine] = {}

# A pooled connection returned less than this long ago is handed out without a ping: it
# has just answered. Pinging on every checkout (`pool_pre_ping`) cost a round trip per
# transaction, as much as a worker's start and finish statements together.
PING_IDLE_S = 1.0


def make_engine(
    url: str, *, pool_size: int = 5, autocommit: bool = False, durable: bool = True
) -> Engine:
    """A new engine for `url`, its pool `pool_size` connections (and as many again in
    overflow); SQLite gets WAL, a busy timeout and foreign keys. With `autocommit` every
    statement is its own transaction, committed by the server as it runs. Not `durable`,
    PostgreSQL answers a commit before its WAL reaches the disk (`synchronous_commit=off`):
    a server crash may forget the last fraction of a second of such writes, never part of
    one, and any later durable commit makes them durable too."""
    kwargs: dict[str, Any] = {}
    if not durable and url.startswith("postgresql"):
        kwargs["connect_args"] = {"options": "-c synchronous_commit=off"}
    if autocommit:
        # Each statement commits as it runs: a connection going back to the pool holds no
        # transaction, so it needs no ROLLBACK on the way.
        kwargs.update(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout when it sat idle for `PING_IDLE_S` or more; a
    dead one is replaced before use (SQLAlchemy retries the checkout on
    `DisconnectionError`), as `pool_pre_ping` would."""

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"stale pooled connection: {exc}") from exc

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["returned_at"] = time.monotonic()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-16000")  # 16 MB
    cursor.close()


def get_engine(settings: Settings, *, autocommit: bool = False, durable: bool = True) -> Engine:
    """The engine of this process for the configured database (with `autocommit` or not
    `durable`, a twin with its own pool: see `make_engine`)."""
    key = (os.getpid(), settings.database_url, autocommit, durable)
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = make_engine(
                    settings.database_url,
                    pool_size=settings.db_pool_size,
                    autocommit=autocommit,
                    durable=durable,
                )
                _engines[key] = engine
    return engine


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(settings), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    session = session_factory(settings)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def autocommit(settings: Settings, *, durable: bool = True) -> Iterator[Connection]:
    """A pooled connection on which each statement commits as it runs: one round trip for
    a single-statement write (no BEGIN, no COMMIT). For a worker's claim and result
    writes; anything that must change several rows together uses `session_scope`. Not
    `durable`: the commit does not wait for the disk (see `make_engine`) — only for a
    write whose loss in a database crash is harmless."""
    with get_engine(settings, autocommit=True, durable=durable).connect() as conn:
        yield conn


def ping(session: Session) -> None:
    """A round trip to the database (raises when it cannot be reached)."""
    session.execute(text("SELECT 1"))


def dispose_engines() -> None:
    """Drop this process's pools (tests and shutdown)."""
    with _lock:
        for (pid, *_), engine in list(_engines.items()):
            if pid == os.getpid():
                engine.dispose()
        _engines.clear()
