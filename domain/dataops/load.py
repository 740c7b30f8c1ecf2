"""What a load changes in its target: rows to insert, to update and to delete.

Computed before writing, so a load reports `target_changes` exactly, and a load that
would change nothing (the same spec on the same input again) writes nothing at all.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd

Mode = Literal["append", "replace", "upsert"]


@dataclass(frozen=True)
class LoadPlan:
    """Rows to write and what they change.

    Attributes
    ----------
    insert:
        Rows to insert (the incoming frame's columns).
    update:
        Rows to update in place, matched on the keys (upsert, or replace with keys).
    delete_all:
        Replace: clear the table before inserting `insert`.
    inserted, updated, deleted:
        Row counts of the change, as the target will see it.
    """

    insert: pd.DataFrame
    update: pd.DataFrame
    delete_all: bool
    inserted: int
    updated: int
    deleted: int

    @property
    def changes(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted}

    @property
    def empty(self) -> bool:
        return not (self.inserted or self.updated or self.deleted)


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime):
        # Databases hand back naive or zoned datetimes; compare instants, in UTC.
        moment = pd.Timestamp(value)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        return moment.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def row_tuples(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Rows as comparable tuples (nulls unified, timestamps as ISO text)."""
    return [tuple(_plain(v) for v in row) for row in frame[columns].itertuples(index=False)]


def plan_load(
    existing: pd.DataFrame | None, incoming: pd.DataFrame, *, mode: Mode, keys: list[str]
) -> LoadPlan:
    """Compare the target's current rows with the incoming ones.

    Parameters
    ----------
    existing:
        The target's rows now (None when the table does not exist yet), same columns.
    incoming:
        The rows to load.
    mode:
        ``append`` inserts everything; ``replace`` makes the table equal to `incoming`;
        ``upsert`` inserts new keys and updates changed rows of existing keys.
    keys:
        Key columns (required for upsert; optional for replace, to report updates).

    Returns
    -------
    LoadPlan
        What to write and the counts `inserted`, `updated`, `deleted`.
    """
    columns = list(incoming.columns)
    empty = incoming.iloc[0:0]
    if mode == "append" or existing is None or existing.empty:
        return LoadPlan(
            incoming, empty, mode == "replace" and existing is not None, len(incoming), 0, 0
        )
    old_rows = row_tuples(existing, columns)
    new_rows = row_tuples(incoming, columns)
    if mode == "replace" and not keys:
        old, new = Counter(old_rows), Counter(new_rows)
        inserted = sum((new - old).values())
        deleted = sum((old - new).values())
        changed = bool(inserted or deleted)
        return LoadPlan(incoming if changed else empty, empty, changed, inserted, 0, deleted)
    index = [columns.index(k) for k in keys]
    old_by_key = {tuple(r[i] for i in index): r for r in old_rows}
    insert_rows, update_rows = [], []
    seen: set[tuple[Any, ...]] = set()
    for position, row in enumerate(new_rows):
        key = tuple(row[i] for i in index)
        seen.add(key)
        before = old_by_key.get(key)
        if before is None:
            insert_rows.append(position)
        elif before != row:
            update_rows.append(position)
    if mode == "upsert":
        return LoadPlan(
            incoming.iloc[insert_rows],
            incoming.iloc[update_rows],
            False,
            len(insert_rows),
            len(update_rows),
            0,
        )
    deleted = sum(1 for key in old_by_key if key not in seen)
    changed = bool(insert_rows or update_rows or deleted)
    return LoadPlan(
        incoming if changed else empty,
        empty,
        changed,
        len(insert_rows),
        len(update_rows),
        deleted,
    )


def content_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a table's column names and values (row order included)."""
    import hashlib

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
