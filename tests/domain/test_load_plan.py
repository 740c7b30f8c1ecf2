from __future__ import annotations

import pandas as pd
import pytest

from domain.dataops.load import content_fingerprint, plan_load

OLD = pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})


@pytest.mark.parametrize(
    ("incoming", "mode", "keys", "changes"),
    [
        (OLD.copy(), "replace", [], (0, 0, 0)),
        (OLD.copy(), "upsert", ["id"], (0, 0, 0)),
        (OLD.copy(), "append", [], (3, 0, 0)),
        (pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}), "upsert", ["id"], (1, 1, 0)),
        (pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}), "replace", ["id"], (1, 1, 1)),
        (pd.DataFrame({"id": [1, 2, 4], "v": ["a", "B", "d"]}), "replace", [], (2, 0, 2)),
        (OLD.iloc[0:0], "replace", [], (0, 0, 3)),
    ],
)
def test_a_load_plan_counts_what_the_target_will_see(
    incoming: pd.DataFrame, mode: str, keys: list[str], changes: tuple[int, int, int]
) -> None:
    plan = plan_load(OLD, incoming, mode=mode, keys=keys)  # type: ignore[arg-type]
    assert (plan.inserted, plan.updated, plan.deleted) == changes


def test_the_same_rows_again_write_nothing() -> None:
    plan = plan_load(OLD, OLD.copy(), mode="replace", keys=[])
    assert plan.empty and plan.insert.empty and not plan.delete_all


def test_nulls_and_instants_compare_as_values_not_representations() -> None:
    stored = pd.DataFrame(
        {"id": [1], "at": [pd.Timestamp("2026-01-01 10:00")], "x": [None]}
    )  # naive, as SQLite returns it
    incoming = pd.DataFrame(
        {"id": [1], "at": [pd.Timestamp("2026-01-01 10:00", tz="UTC")], "x": [float("nan")]}
    )
    assert plan_load(stored, incoming, mode="upsert", keys=["id"]).empty


def test_the_fingerprint_follows_content_and_column_names() -> None:
    assert content_fingerprint(OLD) == content_fingerprint(OLD.copy())
    assert content_fingerprint(OLD) != content_fingerprint(OLD.rename(columns={"v": "w"}))
    assert content_fingerprint(OLD) != content_fingerprint(OLD.iloc[::-1])
