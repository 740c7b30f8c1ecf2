"""One pass of an ETL spec over a source's chunks: transforms, checks and quarantine,
chunk by chunk, with every row counted (`EtlPass`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import InvalidInput
from core.kinds.dataops import ValidateParams
from domain.dataops.checks import CheckReport
from domain.dataops.spec import ROW_ID, validate_against_columns
from domain.dataops.stream import ChunkChecks, whole_input_reason
from domain.dataops.transform import KeyHashes, apply_transforms
from tasks.base import JobContext
from tasks.readers import Chunk

MAX_CASES = 100
"""Failing rows a check report lists per check (all are counted)."""

QUARANTINE_META = ["_row", "_line_number", "_rule", "_reason", "_raw"]
"""The columns a quarantine file adds to the rows it holds."""


def whole(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """All chunks as one, for the transforms that need the whole input."""
    frames, broken = [], []
    for frame, lines in chunks:
        frames.append(frame)
        broken.extend(lines)
    yield pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], broken


def check_columns(steps: ValidateParams, columns: list[str]) -> None:
    """The columns the spec names must be the source's (InvalidInput listing the others)."""
    problems = validate_against_columns(list(steps.transforms), list(steps.checks), columns)
    if problems:
        raise InvalidInput(f"the spec does not fit the source: {problems}", details=problems)


def check_report(report: CheckReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "results": report.results,
        "failures": report.failures[:500],
    }


class EtlPass:
    """One pass over a source's chunks: transforms, checks and quarantine, chunk by chunk,
    with every row counted. Holds one chunk at a time, plus the key hashes of
    `deduplicate` and `unique` (8 bytes a key)."""

    def __init__(
        self,
        ctx: JobContext,
        steps: ValidateParams,
        lookups: dict[str, pd.DataFrame],
        quarantine_path: Path | None,
        *,
        first_row: int = 0,
        keep_row_ids: bool = False,
    ) -> None:
        self.ctx = ctx
        self.keep_row_ids = keep_row_ids
        self.steps = steps
        self.lookups = lookups
        self.whole = whole_input_reason(list(steps.transforms))
        self.checks = ChunkChecks(
            list(steps.checks), now=ctx.now(), max_cases=MAX_CASES, lookups=lookups
        )
        self.seen: dict[str, KeyHashes] | None = None if self.whole else {}
        self.read = 0
        self.parsed = first_row  # the next chunk's first `_row` id: rows that parsed
        self.rows = {"loaded": 0, "quarantined": 0, "filtered": 0, "deduplicated": 0}
        self.aggregated = 0
        self.by_rule: dict[str, int] = {}
        self.columns: list[str] | None = None
        self.quarantine_path = quarantine_path
        self.quarantine_columns: list[str] = []

    def chunks(self, source: Iterator[Chunk]) -> Iterator[pd.DataFrame]:
        """The clean rows of each chunk (no `_row` column), in order."""
        for frame, broken in whole(source) if self.whole else source:
            if self.columns is None:
                check_columns(self.steps, [str(c) for c in frame.columns])
            offset = self.parsed
            self.parsed += len(frame)
            self.read += len(frame) + len(broken)
            transformed = apply_transforms(
                frame,
                list(self.steps.transforms),
                self.lookups,
                row_offset=offset,
                seen=self.seen,
            )
            checked = transformed.frame
            if self.columns is None:
                self.columns = [str(c) for c in checked.columns if c != ROW_ID]
                source_columns = [str(c) for c in frame.columns]
                extra = [c for c in self.columns if c not in source_columns]
                self.quarantine_columns = [
                    *QUARANTINE_META[:4],
                    *source_columns,
                    *extra,
                    QUARANTINE_META[4],
                ]
            reasons = self.checks.run(checked)
            failing = checked[ROW_ID].isin(list(reasons)).to_numpy()
            counts = transformed.counts
            for kind in ("filtered", "deduplicated"):
                self.rows[kind] += int(counts[kind])
            self.aggregated += int(counts.get("aggregated", 0))
            for rule, count in counts.get("by_rule", {}).items():
                self.add_rule(rule, int(count))
            for row_reasons in reasons.values():
                for reason in {r.split(":", 1)[0] for r in row_reasons}:
                    self.add_rule(f"check:{reason}", 1)
            if broken:
                self.add_rule("parse", len(broken))
            self._write_quarantine(
                frame, offset, transformed.quarantined, checked[failing], reasons, broken
            )
            clean = checked[~failing].reset_index(drop=True)
            if not self.keep_row_ids:
                clean = clean.drop(columns=[ROW_ID])
            self.rows["loaded"] += len(clean)
            self.ctx.progress(0.5, f"{self.read} rows read")
            yield clean

    def add_rule(self, rule: str, count: int) -> None:
        if count:
            self.by_rule[rule] = self.by_rule.get(rule, 0) + count

    def _write_quarantine(
        self,
        source: pd.DataFrame,
        offset: int,
        rejected: pd.DataFrame,
        failing: pd.DataFrame,
        reasons: dict[int, list[str]],
        broken: list[dict[str, Any]],
    ) -> None:
        parts = [rejected]
        if len(failing):
            rows = failing[ROW_ID].to_numpy()
            # The row as it came in (what someone fixes at the source), or the aggregated
            # row when the checks ran after an aggregate.
            original = (failing if self.aggregated else source.iloc[rows - offset]).copy()
            original[ROW_ID] = rows
            original["_rule"] = "check"
            original["_reason"] = ["; ".join(reasons[int(r)]) for r in rows]
            parts.append(original)
        if broken:
            parts.append(pd.DataFrame(broken))
        table = (
            pd.concat([p for p in parts if len(p)], ignore_index=True)
            if any(len(p) for p in parts)
            else None
        )
        if table is None:
            return
        self.rows["quarantined"] += len(table)
        if self.quarantine_path is None:
            return
        header = not self.quarantine_path.exists()
        table = table.reindex(columns=self.quarantine_columns)
        for column in (ROW_ID, "_line_number"):
            table[column] = table[column].astype("Int64")
        table.to_csv(self.quarantine_path, mode="a", header=header, index=False)

    def totals(self) -> dict[str, Any]:
        rows: dict[str, Any] = {"read": self.read, **self.rows, "by_rule": self.by_rule}
        if self.aggregated:
            rows["aggregated"] = self.aggregated
        accounted = sum(self.rows.values()) + self.aggregated
        if self.read != accounted:
            raise RuntimeError(
                f"row accounting does not add up ({self.read} read, {accounted} accounted "
                "for); nothing was loaded"
            )
        return rows
