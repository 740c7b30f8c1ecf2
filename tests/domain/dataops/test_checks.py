from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from domain.dataops.checks import CheckReport, run_checks
from domain.dataops.spec import EtlSteps

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def _check(frame: pd.DataFrame, checks: list[dict[str, Any]], **kwargs: Any) -> CheckReport:
    steps = EtlSteps.model_validate({"checks": checks})
    return run_checks(frame, steps.checks, now=NOW, **kwargs)


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 2, 4],
            "price": [5.0, -1.0, None, 200.0],
            "code": ["AB1", "ab2", "CD3", None],
            "region": ["eu", "us", "mars", "eu"],
            "ts": pd.to_datetime(
                ["2024-06-01T11:00Z", "2024-05-01T00:00Z", None, "2024-06-01T10:00Z"]
            ),
            "_row": [10, 11, 12, 13],
        }
    )


def test_all_checks_run_and_every_failure_is_reported_lazily(table: pd.DataFrame) -> None:
    report = _check(
        table,
        [
            {"type": "not_null", "columns": ["price", "code"]},
            {"type": "range", "column": "price", "min": 0, "max": 100},
            {"type": "regex", "column": "code", "pattern": "[A-Z]{2}[0-9]"},
            {"type": "allowed", "column": "region", "values": ["eu", "us"], "severity": "warn"},
            {"type": "unique", "columns": ["id"]},
            {"type": "row_count", "min": 1, "max": 3},
            {"type": "freshness", "column": "ts", "max_age_s": 7200},
        ],
    )
    by_check = {r["check"]: r for r in report.results}
    assert by_check["not_null"]["failed"] == 2
    assert by_check["range"]["failed"] == 2 and by_check["range"]["level"] == "row"
    assert by_check["regex"]["failed"] == 1
    assert by_check["allowed"]["failed"] == 1 and by_check["allowed"]["severity"] == "warn"
    assert by_check["unique"]["failed"] == 2 and by_check["unique"]["level"] == "dataset"
    assert by_check["row_count"]["passed"] is False
    assert by_check["freshness"]["passed"] is True
    assert not report.passed
    # error rows come from error-severity row-level checks only, as `_row` ids
    assert report.error_rows == [11, 12, 13]
    range_cases = [f for f in report.failures if f["check"] == "range"]
    assert [(f["failure_case"], f["row"]) for f in range_cases] == [(-1.0, 11), (200.0, 13)]
    regex_case = next(f for f in report.failures if f["check"] == "regex")
    assert regex_case == {
        "check": "regex",
        "column": "code",
        "severity": "error",
        "failure_case": "ab2",
        "row": 11,
        "message": "does not match '[A-Z]{2}[0-9]'",
    }
    json.dumps(report.failures, allow_nan=False)


def test_a_clean_table_passes_and_warnings_do_not_fail_it(table: pd.DataFrame) -> None:
    report = _check(
        table,
        [
            {"type": "not_null", "columns": ["id"]},
            {"type": "allowed", "column": "region", "values": ["eu"], "severity": "warn"},
        ],
    )
    assert report.passed and report.error_rows == []
    assert report.results[0]["message"] == "ok"


def test_freshness_uses_the_given_now_not_the_clock(table: pd.DataFrame) -> None:
    checks = [{"type": "freshness", "column": "ts", "max_age_s": 3600}]
    assert _check(table, checks).passed
    late = EtlSteps.model_validate({"checks": checks}).checks
    report = run_checks(table, late, now=datetime(2024, 6, 2))  # naive = UTC
    assert not report.passed
    assert report.failures[0]["failure_case"] == "2024-06-01T11:00:00+00:00"
    assert report.failures[0]["row"] is None


def test_freshness_on_naive_datetimes_and_on_non_datetimes() -> None:
    frame = pd.DataFrame({"ts": pd.to_datetime(["2024-06-01T11:30"]), "s": ["x"]})
    report = _check(
        frame,
        [
            {"type": "freshness", "column": "ts", "max_age_s": 3600},
            {"type": "freshness", "column": "s", "max_age_s": 3600},
        ],
    )
    assert [r["passed"] for r in report.results] == [True, False]
    assert "not datetime" in report.results[1]["message"]


def test_row_ids_fall_back_to_positions_and_cases_are_capped() -> None:
    frame = pd.DataFrame({"v": list(range(50))})
    report = _check(frame, [{"type": "range", "column": "v", "max": -1}], max_cases=5)
    assert report.results[0]["failed"] == 50
    assert [f["row"] for f in report.failures] == [0, 1, 2, 3, 4]
    assert report.error_rows == list(range(50))


def test_missing_columns_and_non_numeric_ranges_are_failures_not_crashes() -> None:
    frame = pd.DataFrame({"s": ["a", "b"]})
    report = _check(
        frame,
        [
            {"type": "not_null", "columns": ["ghost"]},
            {"type": "range", "column": "s", "min": 0},
        ],
    )
    assert report.results[0]["message"] == "missing columns ['ghost']"
    assert report.results[1]["failed"] == 2


def test_row_count_bounds() -> None:
    frame = pd.DataFrame({"a": [1, 2]})
    assert _check(frame, [{"type": "row_count", "min": 2, "max": 2}]).passed
    report = _check(frame, [{"type": "row_count", "min": 3}])
    assert report.failures[0]["failure_case"] == 2


def test_a_referential_check_flags_values_missing_from_the_other_dataset() -> None:
    checks = list(
        EtlSteps.model_validate(
            {"checks": [{"type": "referential", "column": "code", "dataset": "regions@1"}]}
        ).checks
    )
    frame = pd.DataFrame({"code": ["fr", "xx", None], "_row": [0, 1, 2]})
    regions = pd.DataFrame({"code": ["fr", "us"]})
    report = run_checks(frame, checks, now=datetime.now(UTC), lookups={"regions@1": regions})
    assert report.error_rows == [1]
    assert report.failures[0]["failure_case"] == "xx"
