"""An input read in chunks gives the same rows, counts and check verdicts as the whole
input at once: deduplicate and unique see across chunk boundaries, row_count and
freshness are decided over every chunk."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from domain.dataops.checks import run_checks
from domain.dataops.spec import ROW_ID, EtlSteps
from domain.dataops.stream import ChunkChecks, whole_input_reason
from domain.dataops.transform import KeyHashes, TransformError, apply_transforms

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _source(rows: int = 2500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = np.arange(rows).astype(str).astype(object)
    ids[1700] = ids[20]  # a repeat in a later chunk than the first occurrence
    ids[2400] = ids[2399]  # a repeat within one chunk
    score = rng.uniform(0, 100, rows).round(1).astype(str).astype(object)
    score[5] = "oops"  # does not cast: quarantined by the transform
    score[1999] = "250"  # out of range: quarantined by a check
    name = np.array([f"n{i}" for i in range(rows)], dtype=object)
    name[1001] = None  # null: quarantined by a check
    seen = pd.date_range("2026-11-20", periods=rows, freq="min").astype(str)
    return pd.DataFrame({"id": ids, "score": score, "name": name, "seen": seen})


STEPS = EtlSteps.model_validate(
    {
        "transforms": [
            {"type": "cast", "columns": {"score": "float"}, "on_error": "quarantine"},
            {"type": "parse_datetime", "column": "seen"},
            {"type": "deduplicate", "keys": ["id"]},
        ],
        "checks": [
            {"type": "not_null", "columns": ["name"]},
            {"type": "range", "column": "score", "min": 0, "max": 100},
            {"type": "unique", "columns": ["name"], "severity": "warn"},
            {"type": "row_count", "min": 10, "max": 2400},
            {"type": "freshness", "column": "seen", "max_age_s": 7 * 86400},
        ],
    }
)


def _chunked(frame: pd.DataFrame, size: int) -> tuple[pd.DataFrame, dict[str, Any], Any]:
    checks = ChunkChecks(list(STEPS.checks), now=NOW)
    seen: dict[str, KeyHashes] = {}
    outputs, totals = [], {"filtered": 0, "deduplicated": 0, "quarantined": 0}
    error_rows: set[int] = set()
    for start in range(0, len(frame), size):
        result = apply_transforms(
            frame.iloc[start : start + size], list(STEPS.transforms), row_offset=start, seen=seen
        )
        error_rows.update(checks.run(result.frame))
        outputs.append(result.frame)
        for key in totals:
            totals[key] += result.counts[key]
    totals["error_rows"] = sorted(error_rows)
    return pd.concat(outputs, ignore_index=True), totals, checks.finish(list(outputs[0].columns))


@pytest.mark.parametrize("size", [100, 999, 2500])
def test_chunks_give_the_rows_and_verdicts_of_the_whole(size: int) -> None:
    frame = _source()
    whole = apply_transforms(frame, list(STEPS.transforms))
    report = run_checks(whole.frame, list(STEPS.checks), now=NOW)
    output, totals, chunked_report = _chunked(frame, size)

    pd.testing.assert_frame_equal(output, whole.frame)
    assert totals["deduplicated"] == whole.counts["deduplicated"] == 2
    assert totals["quarantined"] == whole.counts["quarantined"] == 1
    assert totals["error_rows"] == report.error_rows == [1001, 1999]
    verdicts = [(r["check"], r["passed"]) for r in chunked_report.results]
    assert verdicts == [(r["check"], r["passed"]) for r in report.results]
    assert verdicts == [
        ("not_null", False),
        ("range", False),
        ("unique", True),
        ("row_count", False),  # 2,497 rows over the limit of 2,400
        ("freshness", True),
    ]
    counts = {r["check"]: r["failed"] for r in chunked_report.results}
    assert counts["not_null"] == 1 and counts["range"] == 1
    assert chunked_report.failures[0]["row"] == 1001


def test_a_repeat_across_chunks_fails_unique() -> None:
    frame = pd.DataFrame({"k": [1, 2, 3, 4, 1]})
    checks = ChunkChecks(
        list(EtlSteps.model_validate({"checks": [{"type": "unique", "columns": ["k"]}]}).checks),
        now=NOW,
    )
    for start in (0, 2, 4):
        chunk = frame.iloc[start : start + 2]
        checks.run(chunk.assign(**{ROW_ID: range(start, start + len(chunk))}))
    result = checks.finish(["k"]).results[0]
    assert not result["passed"] and result["failed"] == 1


def test_specs_that_need_the_whole_input_say_why() -> None:
    aggregate = EtlSteps.model_validate(
        {
            "transforms": [
                {"type": "aggregate", "by": ["k"], "metrics": {"n": {"fn": "count"}}},
            ]
        }
    )
    last = EtlSteps.model_validate(
        {"transforms": [{"type": "deduplicate", "keys": ["k"], "keep": "last"}]}
    )
    assert "aggregate" in (whole_input_reason(list(aggregate.transforms)) or "")
    assert "keep: last" in (whole_input_reason(list(last.transforms)) or "")
    assert whole_input_reason(list(STEPS.transforms)) is None
    with pytest.raises(TransformError, match="whole input"):
        apply_transforms(pd.DataFrame({"k": [1]}), list(last.transforms), seen={})
