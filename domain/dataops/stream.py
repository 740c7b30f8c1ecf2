"""Checks over an input read in chunks: row-level checks judge each chunk, `unique`
remembers the key hashes of earlier chunks, `row_count` and `freshness` are decided
once the last chunk is in. Memory: one chunk plus 8 bytes per distinct key of each
`unique` check (and of each `deduplicate`, see `transform.KeyHashes`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from domain.dataops.checks import ROW_LEVEL, CheckReport, Collector, record, run_checks
from domain.dataops.spec import ROW_ID, Aggregate, Deduplicate, Freshness, RowCount, Unique
from domain.dataops.transform import KeyHashes


def whole_input_reason(transforms: list[Any]) -> str | None:
    """Why a spec needs its whole input at once (None when it can run chunk by chunk)."""
    for transform in transforms:
        if isinstance(transform, Aggregate):
            return "aggregate groups rows from anywhere in the input"
        if isinstance(transform, Deduplicate) and transform.keep != "first":
            return "deduplicate with keep: last needs to see the last repeat"
    return None


class ChunkChecks:
    """Run a spec's checks over chunks of one input and merge them into one report.

    Parameters
    ----------
    checks:
        Check models from `domain.dataops.spec`.
    now, max_cases, lookups:
        As for `run_checks`.
    """

    def __init__(
        self,
        checks: list[Any],
        *,
        now: datetime,
        max_cases: int = 100,
        lookups: Mapping[str, pd.DataFrame] | None = None,
    ) -> None:
        self.checks = checks
        self.now = now
        self.max_cases = max_cases
        self.lookups = lookups or {}
        self.rows = 0
        self.failed = [0] * len(checks)
        self.cases: list[list[dict[str, Any]]] = [[] for _ in checks]
        self.hashes = {i: KeyHashes() for i, c in enumerate(checks) if isinstance(c, Unique)}
        self.newest: dict[int, list[pd.Series]] = {
            i: [] for i, c in enumerate(checks) if isinstance(c, Freshness)
        }

    def run(self, frame: pd.DataFrame) -> dict[int, list[str]]:
        """Check one chunk; returns, for each `_row` id failing an error-severity row
        check, the reasons (every failing row, not only the report's capped cases)."""
        self.rows += len(frame)
        reasons: dict[int, list[str]] = {}
        for index, check in enumerate(self.checks):
            if check.type not in ROW_LEVEL:
                continue
            error = check.severity == "error"
            report = run_checks(
                frame,
                [check],
                now=self.now,
                max_cases=len(frame) if error else self.max_cases,
                lookups=self.lookups,
            )
            self.count(index, report.results[0]["failed"], report.failures)
            if error:
                for case in report.failures:
                    if case["row"] is not None:
                        reasons.setdefault(case["row"], []).append(
                            f"{check.type}: {case['message']}"
                        )
        for index, hashes in self.hashes.items():
            self.unique(index, hashes, frame)
        for index, newest in self.newest.items():
            column = self.checks[index].column
            if column in frame.columns and len(frame):
                series = frame[column]
                at = series.dropna()
                newest.append(series.loc[[at.idxmax()]] if len(at) and _is_time(at) else at[:1])
        return reasons

    def count(self, index: int, failed: int, cases: list[dict[str, Any]]) -> None:
        """Add failures of check `index` (cases beyond `max_cases` are not kept)."""
        self.failed[index] += failed
        room = self.max_cases - len(self.cases[index])
        self.cases[index].extend(cases[: max(room, 0)])

    def unique(self, index: int, hashes: KeyHashes, frame: pd.DataFrame) -> None:
        """Judge unique check `index` on a chunk, against the keys of earlier chunks."""
        check = self.checks[index]
        missing = [c for c in check.columns if c not in frame.columns]
        if missing:
            return  # reported once by finish, as run_checks does
        keys = frame[list(check.columns)]
        repeated = (keys.duplicated(keep=False) | hashes.seen_before(keys)).to_numpy()
        hashes.add(keys)
        positions = np.flatnonzero(repeated)
        rows = frame[ROW_ID].to_numpy() if ROW_ID in frame else np.arange(len(frame))
        cases: list[dict[str, Any]] = []
        collect = Collector(self._entry(index), cases)
        for position in positions[: self.max_cases]:
            values = keys.iloc[position].tolist()
            shown = values[0] if len(values) == 1 else values
            collect(shown, int(rows[position]), f"{list(check.columns)} repeated")
        self.count(index, len(positions), cases)

    def _entry(self, index: int) -> dict[str, Any]:
        check = self.checks[index]
        column = getattr(check, "column", None)
        if column is None and isinstance(check, Unique):
            column = ", ".join(check.columns)
        return {
            "check": check.type,
            "index": index,
            "column": column,
            "severity": check.severity,
            "level": "row" if check.type in ROW_LEVEL else "dataset",
        }

    def finish(self, columns: list[str]) -> CheckReport:
        """The report over every chunk; `columns` are the checked table's columns."""
        report = CheckReport()
        for index, check in enumerate(self.checks):
            entry = self._entry(index)
            cases = self.cases[index]
            failed = self.failed[index]
            missing = [c for c in getattr(check, "columns", []) if c not in columns]
            if isinstance(check, Unique) and missing:
                cases = []
                Collector(entry, cases)(None, None, f"missing columns {missing}")
                failed = 1
            elif isinstance(check, RowCount):
                low = check.min is not None and self.rows < check.min
                high = check.max is not None and self.rows > check.max
                failed = int(low or high)
                if failed:
                    Collector(entry, cases)(
                        self.rows,
                        None,
                        f"{self.rows} rows, expected between {check.min} and {check.max}",
                    )
            elif isinstance(check, Freshness):
                parts = self.newest[index]
                newest = pd.concat(parts) if parts else pd.Series([], dtype="datetime64[ns, UTC]")
                sub = run_checks(
                    pd.DataFrame({check.column: newest.reset_index(drop=True)})
                    if check.column in columns
                    else pd.DataFrame(),
                    [check],
                    now=self.now,
                )
                failed, cases = sub.results[0]["failed"], sub.failures
            record(report, entry, failed, cases)
        return report


def _is_time(series: pd.Series) -> bool:
    return bool(pd.api.types.is_datetime64_any_dtype(series.dtype))
