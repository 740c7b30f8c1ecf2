"""Warehouse loads on the suite's real database: what a load reports changing is what
changed, a repeat changes nothing, and chunks staged one by one load as one table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Connection, MetaData, Table, select

from core import warehouse
from core.config import Settings
from core.db import get_engine
from core.errors import InvalidInput

OLD = pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})
NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _load_once(
    conn: Connection, table: str, frame: pd.DataFrame, mode: str, keys: list[str], job: str
) -> dict[str, int]:
    loading = warehouse.Load(
        conn,
        table=table,
        mode=mode,
        keys=keys,
        job_id=job,
        now=NOW,  # type: ignore[arg-type]
    )
    loading.stage(frame)
    return loading.finish()


def _load(
    settings: Settings, table: str, frame: pd.DataFrame, mode: str, keys: list[str]
) -> dict[str, int]:
    with get_engine(settings).begin() as conn:
        return _load_once(conn, table, frame, mode, keys, str(uuid.uuid4()))


def _rows(settings: Settings, table: str) -> list[tuple]:
    with get_engine(settings).connect() as conn:
        stored = Table(warehouse.table_name(table), MetaData(), autoload_with=conn)
        return sorted(tuple(r) for r in conn.execute(select(stored)).all())


def _table() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.mark.parametrize(
    ("incoming", "mode", "keys", "changes", "after"),
    [
        (OLD.copy(), "replace", [], (0, 0, 0), None),
        (OLD.copy(), "upsert", ["id"], (0, 0, 0), None),
        (OLD.copy(), "append", [], (3, 0, 0), 6),
        (
            pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}),
            "upsert",
            ["id"],
            (1, 1, 0),
            [(1, "a"), (2, "B"), (3, "c"), (4, "d")],
        ),
        (
            pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}),
            "replace",
            ["id"],
            (1, 1, 1),
            [(1, "a"), (2, "B"), (4, "d")],
        ),
        (
            pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}),
            "replace",
            [],
            (2, 0, 2),
            [(1, "a"), (2, "B"), (4, "d")],
        ),
        (OLD.iloc[0:0], "replace", [], (0, 0, 3), []),
    ],
)
def test_a_load_reports_exactly_what_it_changed(
    settings: Settings,
    incoming: pd.DataFrame,
    mode: str,
    keys: list[str],
    changes: tuple[int, int, int],
    after: object,
) -> None:
    table = _table()
    assert _load(settings, table, OLD, "append", [])["inserted"] == 3
    got = _load(settings, table, incoming, mode, keys)
    assert (got["inserted"], got["updated"], got["deleted"]) == changes
    rows = _rows(settings, table)
    if after is None:
        assert rows == [(1, "a"), (2, "b"), (3, "c")]
    elif isinstance(after, int):
        assert len(rows) == after
    else:
        assert rows == after


def test_nulls_and_instants_compare_as_values(settings: Settings) -> None:
    table = _table()
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "at": pd.to_datetime(["2026-01-01 10:00", None], utc=True),
            "x": [None, 1.5],
        }
    )
    _load(settings, table, frame, "upsert", ["id"])
    assert _load(settings, table, frame.copy(), "upsert", ["id"]) == {
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
    }
    assert _load(settings, table, frame.copy(), "replace", [])["inserted"] == 0


def test_chunks_staged_one_by_one_load_as_one_table(settings: Settings) -> None:
    table = _table()
    frame = pd.DataFrame({"id": range(2500), "v": [f"x{i % 7}" for i in range(2500)]})
    with get_engine(settings).begin() as conn:
        loading = warehouse.Load(
            conn, table=table, mode="replace", keys=["id"], job_id=str(uuid.uuid4()), now=NOW
        )
        for start in range(0, len(frame), 1000):  # COPY and plain inserts alike
            loading.stage(frame.iloc[start : start + 1000])
        assert loading.finish() == {"inserted": 2500, "updated": 0, "deleted": 0}
    assert len(_rows(settings, table)) == 2500
    changed = frame.assign(v=frame["v"].where(frame["id"] % 100 != 0, "changed"))
    assert _load(settings, table, changed, "replace", ["id"]) == {
        "inserted": 0,
        "updated": 25,
        "deleted": 0,
    }


def test_the_same_job_never_loads_twice(settings: Settings) -> None:
    table, job = _table(), str(uuid.uuid4())
    for _ in range(2):
        with get_engine(settings).begin() as conn:
            changes = _load_once(conn, table, OLD, "append", [], job)
        assert changes["inserted"] == 3  # the recorded change, not a second insert
    assert len(_rows(settings, table)) == 3


def test_a_load_that_fails_leaves_the_target_as_it_was(settings: Settings) -> None:
    table = _table()
    _load(settings, table, OLD, "append", [])
    repeated = pd.DataFrame({"id": [1, 1], "v": ["x", "y"]})
    with pytest.raises(InvalidInput, match="repeat"):
        _load(settings, table, repeated, "upsert", ["id"])
    with pytest.raises(InvalidInput, match="differ"):
        _load(settings, table, OLD.assign(w=1), "append", [])
    assert _rows(settings, table) == [(1, "a"), (2, "b"), (3, "c")]


def test_replace_with_other_columns_recreates_the_table(settings: Settings) -> None:
    table = _table()
    _load(settings, table, OLD, "append", [])
    got = _load(settings, table, pd.DataFrame({"id": [9], "w": [1.5]}), "replace", [])
    assert got == {"inserted": 1, "updated": 0, "deleted": 3}
    assert _rows(settings, table) == [(9, 1.5)]
