from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from domain.dataops.spec import EtlSteps
from domain.dataops.transform import TransformError, TransformResult, apply_transforms


def _run(frame: pd.DataFrame, transforms: list[dict[str, Any]]) -> TransformResult:
    steps = EtlSteps.model_validate({"transforms": transforms})
    return apply_transforms(frame, steps.transforms)


def _accounted(result: TransformResult) -> None:
    counts = result.counts
    assert counts["input"] == (
        counts["output"] + counts["filtered"] + counts["deduplicated"] + counts["quarantined"]
    )
    assert counts["quarantined"] == len(result.quarantined)
    assert counts["output"] == len(result.frame)


@pytest.fixture
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Price": ["1.5", "x", None, "2", "3", "4"],
            "qty": ["1", "2", "3", "1.5", "0", "5"],
            "day": ["01/02/2024", "02/02/2024", "bad", "03/02/2024", "04/02/2024", "05/02/2024"],
            "name": [" Bob", "ann", "cid", "dan", "eve", "bob "],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


def test_a_full_pipeline_accounts_for_every_input_row(orders: pd.DataFrame) -> None:
    result = _run(
        orders,
        [
            {"type": "rename", "mapping": {"Price": "price"}},
            {"type": "cast", "columns": {"price": "float", "qty": "int"}},
            {"type": "parse_datetime", "column": "day", "format": "%d/%m/%Y"},
            {"type": "strip", "columns": ["name"]},
            {"type": "lower", "columns": ["name"]},
            {"type": "replace", "column": "name", "mapping": {"bob": "robert"}},
            {"type": "fill_null", "values": {"price": 0}},
            {"type": "filter", "expr": "qty > 0"},
            {"type": "deduplicate", "keys": ["name"], "keep": "last"},
            {"type": "derive", "column": "total", "expr": "price * qty"},
            {"type": "drop", "columns": ["day"]},
        ],
    )
    _accounted(result)
    assert result.frame.to_dict("records") == [
        {"price": 4.0, "qty": 5, "name": "robert", "_row": 5, "total": 20.0}
    ]
    assert result.counts == {
        "input": 6,
        "output": 1,
        "filtered": 1,
        "deduplicated": 1,
        "quarantined": 3,
        "aggregated": 0,
        "nulled": 0,
        "by_rule": {
            "transforms[1].cast": 2,
            "transforms[2].parse_datetime": 1,
            "transforms[7].filter": 1,
            "transforms[8].deduplicate": 1,
        },
    }
    quarantined = result.quarantined.set_index("_row")
    assert list(result.quarantined.columns) == [*orders.columns, "_row", "_rule", "_reason"]
    assert quarantined.loc[1, "Price"] == "x"  # the original row, as it came in
    assert quarantined.loc[1, "_reason"] == "price: cannot read 'x' as float"
    assert quarantined.loc[3, "_reason"] == "qty: cannot read '1.5' as int"
    assert quarantined.loc[2, "_rule"] == "transforms[2].parse_datetime"
    assert "with format '%d/%m/%Y'" in quarantined.loc[2, "_reason"]


def test_a_row_failing_several_casts_is_quarantined_once_with_every_reason() -> None:
    frame = pd.DataFrame({"a": ["x", "1"], "b": ["y", "2"]})
    result = _run(frame, [{"type": "cast", "columns": {"a": "int", "b": "float"}}])
    _accounted(result)
    assert result.quarantined["_reason"].tolist() == [
        "a: cannot read 'x' as int; b: cannot read 'y' as float"
    ]
    assert result.frame["a"].tolist() == [1]


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("int", ["1", "2.0", " ", None, 7], [1, 2, None, None, 7]),
        ("float", ["1.5", "-2", "", None], [1.5, -2.0, None, None]),
        ("bool", ["true", "No", "1", 0, True, None], [True, False, True, False, True, None]),
        ("str", [1, "a", None], ["1", "a", None]),
    ],
)
def test_casts_convert_values_and_treat_blanks_as_null(
    kind: str, values: list[object], expected: list[object]
) -> None:
    frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    result = _run(frame, [{"type": "cast", "columns": {"v": kind}}])
    assert result.counts["quarantined"] == 0
    assert [None if pd.isna(v) else v for v in result.frame["v"]] == expected


def test_datetime_casts_read_iso_8601_as_utc() -> None:
    frame = pd.DataFrame({"t": ["2024-01-02T03:04:05", "2024-01-02T05:04:05+02:00", "nope"]})
    result = _run(frame, [{"type": "cast", "columns": {"t": "datetime"}}])
    assert str(result.frame["t"].dtype).endswith("UTC]")
    assert result.frame["t"].tolist() == [pd.Timestamp("2024-01-02T03:04:05Z")] * 2
    assert result.quarantined["_row"].tolist() == [2]


def test_on_error_null_keeps_the_row_and_counts_the_nulled_values() -> None:
    frame = pd.DataFrame({"v": ["1", "x", "3"]})
    result = _run(frame, [{"type": "cast", "columns": {"v": "int"}, "on_error": "null"}])
    _accounted(result)
    assert result.frame["v"].tolist() == [1, pd.NA, 3]
    assert result.counts["nulled"] == 1 and result.counts["quarantined"] == 0


def test_on_error_fail_stops_with_the_rows_and_values() -> None:
    frame = pd.DataFrame({"v": ["1", "x"]})
    with pytest.raises(TransformError, match=r"transforms\[0\].cast: 1 value\(s\) failed"):
        _run(frame, [{"type": "cast", "columns": {"v": "int"}, "on_error": "fail"}])


def test_select_keeps_the_row_id_and_drop_null_counts_as_filtered() -> None:
    frame = pd.DataFrame({"a": [1, None, 3], "b": ["x", "y", None]})
    result = _run(
        frame, [{"type": "drop_null", "columns": ["a"]}, {"type": "select", "columns": ["b"]}]
    )
    _accounted(result)
    assert list(result.frame.columns) == ["b", "_row"]
    assert result.frame["_row"].tolist() == [0, 2]
    assert result.counts["filtered"] == 1


def test_fill_null_with_a_value_of_another_type_does_not_warn() -> None:
    frame = pd.DataFrame({"a": [1.0, None], "s": ["x", None]})
    result = _run(frame, [{"type": "fill_null", "values": {"a": "missing", "s": "?"}}])
    assert result.frame["a"].tolist() == [1.0, "missing"]
    assert result.frame["s"].tolist() == ["x", "?"]


def test_text_transforms_leave_non_text_values_alone() -> None:
    frame = pd.DataFrame({"m": pd.Series([" A ", 5, None], dtype=object)})
    result = _run(frame, [{"type": "strip", "columns": ["m"]}, {"type": "upper", "columns": ["m"]}])
    assert result.frame["m"].tolist()[:2] == ["A", 5]


def test_deduplicate_without_keys_compares_all_columns_but_the_row_id() -> None:
    frame = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "x"]})
    result = _run(frame, [{"type": "deduplicate"}])
    assert result.frame["_row"].tolist() == [0, 2]
    assert result.counts["deduplicated"] == 1


def test_an_empty_frame_passes_through_with_an_empty_quarantine() -> None:
    frame = pd.DataFrame({"a": pd.Series([], dtype=object)})
    result = _run(
        frame, [{"type": "cast", "columns": {"a": "int"}}, {"type": "filter", "expr": "a > 1"}]
    )
    _accounted(result)
    assert list(result.quarantined.columns) == ["a", "_row", "_rule", "_reason"]


@pytest.mark.parametrize(
    ("transforms", "message"),
    [
        ([{"type": "cast", "columns": {"nope": "int"}}], r"transforms\[0\].cast: unknown columns"),
        (
            [{"type": "filter", "expr": "a + 1"}],
            r"transforms\[0\].filter: a filter needs true/false",
        ),
        ([{"type": "derive", "column": "c", "expr": "lower(a)"}], "lower\\(\\) needs text"),
        (
            [{"type": "rename", "mapping": {"a": "b"}}],
            r"renaming onto existing or reserved \['b'\]",
        ),
        ([{"type": "drop", "columns": ["_row"]}], "'_row' is the row id"),
        ([{"type": "lower", "columns": ["a"]}], "column 'a' is int64, not text"),
    ],
)
def test_transforms_that_cannot_run_raise_naming_the_step(
    transforms: list[dict[str, Any]], message: str
) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with pytest.raises(TransformError, match=message):
        _run(frame, transforms)


def test_reserved_source_columns_are_refused() -> None:
    with pytest.raises(TransformError, match="reserved"):
        apply_transforms(pd.DataFrame({"_row": [1]}), [])


def _join_steps(how: str) -> list[Any]:
    return list(
        EtlSteps.model_validate(
            {
                "transforms": [
                    {
                        "type": "join",
                        "dataset": "regions@1",
                        "on": ["code"],
                        "columns": ["region"],
                        "how": how,
                    }
                ]
            }
        ).transforms
    )


REGIONS = pd.DataFrame({"code": ["fr", "us"], "region": ["eu", "na"]})


def test_a_left_join_brings_columns_and_keeps_every_row() -> None:
    frame = pd.DataFrame({"code": ["fr", "jp", "us"], "v": [1, 2, 3]})
    result = apply_transforms(frame, _join_steps("left"), {"regions@1": REGIONS})
    assert list(result.frame["region"].fillna("?")) == ["eu", "?", "na"]
    assert result.counts["filtered"] == 0 and list(result.frame["_row"]) == [0, 1, 2]


def test_an_inner_join_counts_unmatched_rows_as_filtered() -> None:
    frame = pd.DataFrame({"code": ["fr", "jp", "us"], "v": [1, 2, 3]})
    result = apply_transforms(frame, _join_steps("inner"), {"regions@1": REGIONS})
    assert list(result.frame["code"]) == ["fr", "us"]
    assert result.counts["filtered"] == 1
    assert result.counts["input"] == len(result.frame) + result.counts["filtered"]


def test_a_join_on_repeated_keys_is_refused_rather_than_multiplying_rows() -> None:
    repeated = pd.concat([REGIONS, REGIONS])
    with pytest.raises(TransformError, match="repeats 2 keys"):
        apply_transforms(
            pd.DataFrame({"code": ["fr"]}), _join_steps("left"), {"regions@1": repeated}
        )


def test_an_aggregate_folds_rows_into_groups_and_counts_them() -> None:
    steps = EtlSteps.model_validate(
        {
            "transforms": [
                {
                    "type": "aggregate",
                    "by": ["region"],
                    "metrics": {
                        "orders": {"fn": "count"},
                        "revenue": {"fn": "sum", "column": "amount"},
                        "largest": {"fn": "max", "column": "amount"},
                    },
                }
            ]
        }
    )
    frame = pd.DataFrame({"region": ["eu", "na", "eu", "eu"], "amount": [10, 5, 20, 30]})
    result = apply_transforms(frame, list(steps.transforms))
    out = result.frame.set_index("region")
    assert out.loc["eu", "orders"] == 3 and out.loc["eu", "revenue"] == 60
    assert out.loc["na", "largest"] == 5
    assert result.counts["aggregated"] == 2
    assert result.counts["input"] == len(result.frame) + result.counts["aggregated"]


def test_an_aggregate_needs_a_column_for_anything_but_count() -> None:
    with pytest.raises(ValueError, match="sum needs a column"):
        EtlSteps.model_validate(
            {"transforms": [{"type": "aggregate", "by": ["a"], "metrics": {"s": {"fn": "sum"}}}]}
        )
