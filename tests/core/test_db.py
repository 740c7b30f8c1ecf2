"""Pooled connections: pinged on checkout only after sitting idle, replaced when dead."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from core.config import Settings
from core.db import PING_IDLE_S, get_engine, make_engine


def _counting_pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(ping(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_returned_just_now_is_reused_without_a_ping(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(settings.database_url, pool_size=1)
    pings = _counting_pings(engine, monkeypatch)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        first = len(pings)  # a fresh connection may be pinged once
        for _ in range(5):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert len(pings) == first
    finally:
        engine.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_use(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.uses_sqlite:
        pytest.skip("needs a database server to cut a connection")
    engine = make_engine(settings.database_url, pool_size=1)
    pings = _counting_pings(engine, monkeypatch)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with get_engine(settings).begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(PING_IDLE_S + 0.2)
        before = len(pings)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert len(pings) > before
    finally:
        engine.dispose()


def test_an_autocommit_connection_commits_each_statement_as_it_runs(settings: Settings) -> None:
    from core.db import autocommit

    table = "autocommit_probe"
    with get_engine(settings).begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)"))
    try:
        with autocommit(settings) as conn:
            conn.execute(text("INSERT INTO autocommit_probe (id) VALUES (1)"))
            # Seen by another connection while this one is still open: no COMMIT needed.
            with get_engine(settings).connect() as other:
                seen = other.execute(text("SELECT count(*) FROM autocommit_probe")).scalar_one()
            assert seen == 1
    finally:
        with get_engine(settings).begin() as conn:
            conn.execute(text(f"DROP TABLE {table}"))


def test_only_the_connection_asked_not_to_be_durable_skips_waiting_for_the_disk(
    settings: Settings,
) -> None:
    if settings.uses_sqlite:
        pytest.skip("synchronous_commit is PostgreSQL's")
    from core.db import autocommit

    with autocommit(settings, durable=False) as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
    with autocommit(settings) as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    with get_engine(settings).connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
