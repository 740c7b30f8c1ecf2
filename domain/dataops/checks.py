"""Data-quality checks over a transformed table, reported lazily like pandera.

All checks run (none stops the others); the report lists every failure case, up to a
cap per check, with the `_row` id of the row it came from, and says which rows fail
an `error`-severity row-level check so the caller can quarantine them. Time is the
`now` parameter, never the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from domain.dataops.spec import (
    ROW_ID,
    Allowed,
    Freshness,
    NotNull,
    Range,
    Referential,
    Regex,
    RowCount,
    Unique,
)
from domain.dataops.values import json_value
from domain.user_regex import compile_user_regex

ROW_LEVEL = ("not_null", "range", "regex", "allowed", "referential")
"""Checks judged row by row; their error-severity failures mark rows for quarantine."""


@dataclass
class CheckReport:
    """The outcome of `run_checks`.

    Attributes
    ----------
    results:
        One entry per check, in order: {check, index, column, severity, level
        ("row" or "dataset"), passed, failed (count), message}.
    failures:
        Failure cases: {check, column, severity, failure_case (the value, JSON-ready),
        row (the `_row` id, or None for a dataset-level failure), message}.
    error_rows:
        Sorted `_row` ids failing at least one error-severity row-level check.
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    error_rows: list[int] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no error-severity check failed (warnings do not count)."""
        return all(r["passed"] or r["severity"] != "error" for r in self.results)


def run_checks(
    frame: pd.DataFrame,
    checks: list[Any],
    *,
    now: datetime,
    max_cases: int = 100,
    lookups: Mapping[str, pd.DataFrame] | None = None,
) -> CheckReport:
    """Run every check and collect all failures.

    Parameters
    ----------
    frame:
        The table to check; the `_row` column (as added by `apply_transforms`) gives
        the row ids, otherwise the row position is used.
    checks:
        Check models from `domain.dataops.spec` (`Check`).
    now:
        The current time for `freshness`; a naive datetime is taken as UTC.
    max_cases:
        At most this many failure cases are listed per check (counts stay exact).
    lookups:
        Dataset versions a `referential` check reads, by reference (`name@version`).

    Returns
    -------
    A `CheckReport`.
    """
    rows = (
        frame[ROW_ID].to_numpy()
        if ROW_ID in frame.columns
        else np.arange(len(frame), dtype="int64")
    )
    report = CheckReport()
    bad_rows: set[int] = set()
    for index, check in enumerate(checks):
        column = getattr(check, "column", None)
        if column is None and isinstance(check, NotNull | Unique):
            column = ", ".join(check.columns)
        entry: dict[str, Any] = {
            "check": check.type,
            "index": index,
            "column": column,
            "severity": check.severity,
            "level": "row" if check.type in ROW_LEVEL else "dataset",
        }
        cases: list[dict[str, Any]] = []
        fail = Collector(entry, cases)

        missing = [
            c
            for c in (getattr(check, "columns", None) or ([column] if column else []))
            if c not in frame.columns
        ]
        if missing:
            fail(None, None, f"missing columns {missing}")
            failed = 1
        elif isinstance(check, NotNull | Range | Regex | Allowed | Referential):
            mask, message = _row_failures(frame, check, lookups or {})
            failed = int(mask.sum())
            positions = np.flatnonzero(mask.to_numpy())
            for position in positions[:max_cases]:
                value: Any = None
                if isinstance(check, NotNull):
                    nulls = frame[check.columns].iloc[position].isna()
                    message = f"null in {[c for c, n in nulls.items() if n]}"
                else:
                    value = frame[check.column].iloc[position]
                fail(value, int(rows[position]), message)
            if check.severity == "error":
                bad_rows.update(int(r) for r in rows[positions])
        elif isinstance(check, Unique):
            repeated = frame.duplicated(subset=list(check.columns), keep=False).to_numpy()
            positions = np.flatnonzero(repeated)
            failed = len(positions)
            for position in positions[:max_cases]:
                values = frame[check.columns].iloc[position].tolist()
                shown = values[0] if len(values) == 1 else values
                fail(shown, int(rows[position]), f"{check.columns} repeated")
        elif isinstance(check, RowCount):
            count = len(frame)
            low = check.min is not None and count < check.min
            high = check.max is not None and count > check.max
            failed = int(low or high)
            if failed:
                fail(count, None, f"{count} rows, expected between {check.min} and {check.max}")
        elif isinstance(check, Freshness):
            failed = _freshness(frame[check.column], check, now, fail)
        else:  # pragma: no cover - the spec union is closed
            raise ValueError(f"unsupported check {type(check).__name__}")
        record(report, entry, failed, cases)
    report.error_rows = sorted(bad_rows)
    return report


def record(
    report: CheckReport, entry: dict[str, Any], failed: int, cases: list[dict[str, Any]]
) -> None:
    """Add one check's outcome (its result entry and failure cases) to the report."""
    entry.update(
        passed=failed == 0,
        failed=failed,
        message=cases[0]["message"] if cases else "ok",
    )
    report.results.append(entry)
    report.failures.extend(cases)


class Collector:
    """Records failure cases of one check."""

    def __init__(self, entry: dict[str, Any], cases: list[dict[str, Any]]) -> None:
        self.entry = entry
        self.cases = cases

    def __call__(self, value: Any, row: int | None, message: str) -> None:
        self.cases.append(
            {
                "check": self.entry["check"],
                "column": self.entry["column"],
                "severity": self.entry["severity"],
                "failure_case": json_value(value),
                "row": row,
                "message": message,
            }
        )


def _row_failures(
    frame: pd.DataFrame, check: Any, lookups: Mapping[str, pd.DataFrame]
) -> tuple[pd.Series, str]:
    """Mask of failing rows (positionally aligned with the frame) and the message."""
    if isinstance(check, Referential):
        values = frame[check.column]
        other = lookups.get(check.dataset)
        column = check.dataset_column or check.column
        if other is None or column not in other.columns:
            return values.notna() | values.isna(), f"{check.dataset} has no column {column!r}"
        known = set(other[column].dropna().astype(str))
        present = values.notna()
        return present & ~values.astype(str).isin(known), f"not in {check.dataset}.{column}"
    if isinstance(check, NotNull):
        return frame[list(check.columns)].isna().any(axis=1), "null"
    values = frame[check.column]
    present = values.notna()
    if isinstance(check, Range):
        numbers = pd.to_numeric(values, errors="coerce") if values.dtype == object else values
        if not pd.api.types.is_numeric_dtype(numbers.dtype) or pd.api.types.is_bool_dtype(
            numbers.dtype
        ):
            return present, f"not a number (column is {values.dtype})"
        numbers = numbers.astype("float64")
        bad = present & numbers.isna()
        if check.min is not None:
            bad |= present & (numbers < check.min)
        if check.max is not None:
            bad |= present & (numbers > check.max)
        return bad.astype(bool), f"outside [{check.min}, {check.max}]"
    if isinstance(check, Regex):
        pattern = compile_user_regex(check.pattern, f"regex check on {check.column!r}")
        matched = values.map(lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None)
        return present & ~matched.astype(bool), f"does not match {check.pattern!r}"
    allowed = list(check.values)
    return present & ~values.isin(allowed), f"not one of {allowed}"


def _freshness(series: pd.Series, check: Freshness, now: datetime, fail: Collector) -> int:
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        fail(None, None, f"column is {series.dtype}, not datetime")
        return 1
    newest = series.max()
    if pd.isna(newest):
        fail(None, None, "no datetimes to judge freshness by")
        return 1
    reference = pd.Timestamp(now if now.tzinfo else now.replace(tzinfo=UTC))
    if newest.tzinfo is None:
        newest = newest.tz_localize("UTC")
    age = (reference - newest).total_seconds()
    if age > check.max_age_s:
        fail(newest, None, f"newest value is {age:.0f}s old, limit {check.max_age_s:.0f}s")
        return 1
    return 0
