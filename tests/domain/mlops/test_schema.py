from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from domain.mlops.schema import MAX_LISTED_INVALID, SchemaError, feature_schema, records_to_frame

SCHEMA = [
    {"name": "age", "type": "numeric", "dtype": "float64"},
    {"name": "city", "type": "categorical", "dtype": "object"},
    {"name": "visits", "type": "numeric", "dtype": "int64"},
]


def schema_error(records: Any) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        records_to_frame(records, SCHEMA)
    return caught.value


def test_the_schema_names_each_column_its_kind_and_dtype() -> None:
    frame = pd.DataFrame(
        {
            "age": [1.5, 2.0],
            "visits": pd.array([1, None], dtype="Int64"),
            "city": ["Oslo", "Rome"],
            "member": [True, False],
            "tier": pd.Categorical(["a", "b"]),
        }
    )
    assert feature_schema(frame) == [
        {"name": "age", "type": "numeric", "dtype": "float64"},
        {"name": "visits", "type": "numeric", "dtype": "Int64"},
        {"name": "city", "type": "categorical", "dtype": str(frame["city"].dtype)},
        {"name": "member", "type": "categorical", "dtype": "bool"},
        {"name": "tier", "type": "categorical", "dtype": "category"},
    ]


def test_records_become_a_frame_in_schema_order_with_holes_as_nan() -> None:
    frame = records_to_frame(
        [
            {"visits": 3, "city": "Oslo", "age": 41.5},
            {"city": None, "visits": None, "age": np.int64(7)},
        ],
        SCHEMA,
    )
    assert list(frame.columns) == ["age", "city", "visits"]
    assert frame["age"].dtype == np.float64
    assert frame["visits"].dtype == np.float64
    assert frame["city"].dtype == object
    assert frame["age"].tolist() == [41.5, 7.0]
    assert frame["city"].iloc[0] == "Oslo"
    assert math.isnan(frame["city"].iloc[1])
    assert math.isnan(frame["visits"].iloc[1])


def test_missing_and_unknown_features_are_both_listed() -> None:
    error = schema_error(
        [{"age": 1, "city": "Oslo"}, {"age": 2, "city": "x", "visits": 1, "vip": 1}]
    )
    assert error.missing == ["visits"]
    assert error.extra == ["vip"]
    assert error.invalid == []
    assert "missing features: ['visits']" in str(error)
    assert "unknown features: ['vip']" in str(error)


@pytest.mark.parametrize(
    "value",
    ["41", "forty", True, [1], {"v": 1}, float("inf")],
    ids=["numeric-text", "word", "bool", "list", "object", "infinity"],
)
def test_a_numeric_feature_that_is_not_a_number_is_refused_with_its_row(value: Any) -> None:
    error = schema_error(
        [{"age": 1, "city": "a", "visits": 2}, {"age": value, "city": "b", "visits": 2}]
    )
    [invalid] = error.invalid
    assert invalid["feature"] == "age"
    assert invalid["row"] == 1
    assert invalid["expected"] == "number"
    assert error.missing == error.extra == []


def test_long_bad_values_are_shortened_and_only_the_first_ones_listed() -> None:
    records = [{"age": "x" * 500, "city": "a", "visits": 1} for _ in range(MAX_LISTED_INVALID + 5)]
    error = schema_error(records)
    assert len(error.invalid) == MAX_LISTED_INVALID
    assert len(error.invalid[0]["value"]) <= 80
    assert f"{MAX_LISTED_INVALID + 5} invalid values" in str(error)


def test_no_records_or_a_record_that_is_not_an_object_is_refused() -> None:
    assert "no records" in str(schema_error([]))
    error = schema_error([{"age": 1, "city": "a", "visits": 1}, "age=1"])
    assert error.invalid == [{"feature": None, "row": 1, "value": "age=1", "expected": "object"}]
