from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from domain.dataops.spec import Cast, EtlSteps, Filter, Regex, validate_against_columns


def _steps(
    transforms: list[dict[str, Any]], checks: list[dict[str, Any]] | None = None
) -> EtlSteps:
    return EtlSteps.model_validate({"transforms": transforms, "checks": checks or []})


def test_every_transform_and_check_type_parses_from_json() -> None:
    steps = _steps(
        [
            {"type": "rename", "mapping": {"a": "b"}},
            {"type": "select", "columns": ["b"]},
            {"type": "drop", "columns": ["b"]},
            {"type": "cast", "columns": {"x": "int", "y": "datetime"}, "on_error": "null"},
            {"type": "parse_datetime", "column": "t", "format": "%Y"},
            {"type": "strip", "columns": ["s"]},
            {"type": "lower", "columns": ["s"]},
            {"type": "upper", "columns": ["s"]},
            {"type": "replace", "column": "s", "mapping": {"a": "b", "n/a": None}},
            {"type": "fill_null", "values": {"x": 0}},
            {"type": "drop_null"},
            {"type": "deduplicate", "keys": ["x"], "keep": "last"},
            {"type": "filter", "expr": "x > 1"},
            {"type": "derive", "column": "z", "expr": "x * 2"},
        ],
        [
            {"type": "not_null", "columns": ["x"]},
            {"type": "unique", "columns": ["x", "y"], "severity": "warn"},
            {"type": "range", "column": "x", "min": 0},
            {"type": "regex", "column": "s", "pattern": "[a-z]+"},
            {"type": "allowed", "column": "s", "values": ["a", "b"]},
            {"type": "row_count", "min": 1, "max": 10},
            {"type": "freshness", "column": "t", "max_age_s": 3600},
        ],
    )
    assert [t.type for t in steps.transforms][:4] == ["rename", "select", "drop", "cast"]
    cast = steps.transforms[3]
    assert isinstance(cast, Cast) and cast.on_error == "null"
    assert steps.checks[0].severity == "error" and steps.checks[1].severity == "warn"


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        ({"type": "explode", "column": "a"}, "does not match any of the expected tags"),
        ({"type": "filter", "expr": "a > 1", "extra": 1}, "Extra inputs are not permitted"),
        ({"type": "filter", "expr": "a >> 1"}, "expression 'a >> 1' does not parse"),
        ({"type": "derive", "column": "z", "expr": "system('x')"}, "unknown function 'system'"),
        ({"type": "cast", "columns": {"a": "complex"}}, "Input should be"),
        ({"type": "cast", "columns": {"a": "int"}, "on_error": "ignore"}, "Input should be"),
        ({"type": "select", "columns": []}, "at least 1 item"),
        ({"type": "select", "columns": ["a", "a"]}, "columns listed more than once: ['a']"),
        ({"type": "rename", "mapping": {"a": "c", "b": "c"}}, "more than once: ['c']"),
        ({"type": "deduplicate", "keep": "middle"}, "Input should be"),
        ({"type": "drop", "columns": [""]}, "at least 1 character"),
    ],
)
def test_bad_transforms_are_validation_errors_naming_the_problem(
    transform: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _steps([transform])
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            {"type": "regex", "column": "a", "pattern": "([a-z"},
            "pattern '([a-z' is not a valid regex",
        ),
        ({"type": "range", "column": "a"}, "range needs min, max or both"),
        ({"type": "range", "column": "a", "min": 5, "max": 1}, "min 5.0 is above max 1.0"),
        ({"type": "row_count"}, "row_count needs min, max or both"),
        ({"type": "row_count", "min": -1}, "greater than or equal to 0"),
        ({"type": "freshness", "column": "t", "max_age_s": 0}, "greater than 0"),
        ({"type": "not_null", "columns": ["a"], "severity": "fatal"}, "Input should be"),
        ({"type": "allowed", "column": "a", "values": []}, "at least 1 item"),
        ({"type": "unique", "columns": ["a"], "lazy": True}, "Extra inputs are not permitted"),
    ],
)
def test_bad_checks_are_validation_errors_naming_the_problem(
    check: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        _steps([], [check])
    assert message in str(caught.value)


def test_models_are_immutable_and_forbid_extra_fields_at_the_top() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        EtlSteps.model_validate({"transforms": [], "source": {}})
    regex = Regex(type="regex", column="a", pattern="x")
    with pytest.raises(ValidationError):
        regex.pattern = "y"  # type: ignore[misc]
    assert Filter(type="filter", expr="a == 1").expr == "a == 1"


def test_a_pipeline_that_fits_its_source_has_no_problems() -> None:
    steps = _steps(
        [
            {"type": "rename", "mapping": {"Price": "price"}},
            {"type": "derive", "column": "total", "expr": "price * qty"},
            {"type": "select", "columns": ["total", "qty"]},
            {"type": "filter", "expr": "total > 0 and _row >= 0"},
        ],
        [{"type": "not_null", "columns": ["total"]}, {"type": "row_count", "min": 1}],
    )
    assert validate_against_columns(steps.transforms, steps.checks, ["Price", "qty", "x"]) == []


def test_column_problems_are_all_listed_following_renames_selects_and_derives() -> None:
    steps = _steps(
        [
            {"type": "rename", "mapping": {"Price": "price", "qty": "x"}},
            {"type": "cast", "columns": {"Price": "float"}},
            {"type": "filter", "expr": "prcie > 1 and x > 0"},
            {"type": "select", "columns": ["price", "ghost"]},
            {"type": "derive", "column": "_row", "expr": "price"},
            {"type": "drop", "columns": ["x"]},
        ],
        [
            {"type": "unique", "columns": ["price", "x"]},
            {"type": "freshness", "column": "ts", "max_age_s": 10},
        ],
    )
    problems = validate_against_columns(steps.transforms, steps.checks, ["Price", "qty", "x"])
    assert problems[0].startswith("transforms[0].rename: renaming onto existing column 'x'")
    assert problems[1].startswith("transforms[1].cast: unknown column 'Price'")
    assert "(did you mean 'price'?)" in problems[1]
    assert problems[2].startswith(
        "transforms[2].filter: expr 'prcie > 1 and x > 0': unknown column 'prcie' at 0"
    )
    assert problems[3].startswith("transforms[3].select: unknown column 'ghost'")
    assert problems[4] == "transforms[4].derive: column name '_row' is reserved"
    assert problems[5].startswith("transforms[5].drop: unknown column 'x'")
    assert problems[6].startswith("checks[0].unique: unknown column 'x'")
    assert problems[7].startswith("checks[1].freshness: unknown column 'ts'")
    assert len(problems) == 8


def test_reserved_names_in_the_source_are_a_problem() -> None:
    assert validate_against_columns([], [], ["a", "_row"]) == [
        "source: column names ['_row'] are reserved"
    ]
