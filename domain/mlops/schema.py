"""The features a model expects, and turning prediction requests into a frame it accepts."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from domain.errors import DomainError

NUMERIC = "numeric"
CATEGORICAL = "categorical"

# At most this many bad values are listed one by one; the message counts them all.
MAX_LISTED_INVALID = 50
_MAX_SHOWN_TEXT = 80


class SchemaError(DomainError):
    """Prediction records don't match the model's features.

    Attributes
    ----------
    missing:
        Features the model needs that some record lacks.
    extra:
        Keys some record has that are not features of the model.
    invalid:
        `{"feature", "row", "value", "expected"}` for each bad value (at most
        `MAX_LISTED_INVALID`), e.g. text where a number is due.
    """

    def __init__(
        self,
        message: str,
        *,
        missing: list[str] | None = None,
        extra: list[str] | None = None,
        invalid: list[dict[str, Any]] | None = None,
    ) -> None:
        self.missing = missing or []
        self.extra = extra or []
        self.invalid = invalid or []
        super().__init__(
            message, details={"missing": self.missing, "extra": self.extra, "invalid": self.invalid}
        )


def is_numeric(dtype: Any) -> bool:
    """Whether a column of this dtype is a numeric feature (booleans are categorical).

    Parameters
    ----------
    dtype:
        A pandas or numpy dtype.

    Returns
    -------
    True for integer and float dtypes (nullable ones included), False otherwise (booleans,
    text, categories, dates, complex numbers).
    """
    if isinstance(dtype, np.dtype):
        return dtype.kind in "iuf"
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def feature_schema(features: pd.DataFrame) -> list[dict[str, str]]:
    """What each feature column is, in column order.

    Parameters
    ----------
    features:
        The training features.

    Returns
    -------
    `{"name", "type", "dtype"}` per column: `type` is `numeric` (scaled) or `categorical`
    (one-hot encoded), `dtype` the pandas dtype as text.
    """
    return [
        {
            "name": str(column),
            "type": NUMERIC if is_numeric(dtype) else CATEGORICAL,
            "dtype": str(dtype),
        }
        for column, dtype in features.dtypes.items()
    ]


def records_to_frame(records: list[dict[str, Any]], schema: list[dict[str, str]]) -> pd.DataFrame:
    """A frame with exactly the model's features from prediction records (JSON objects).

    Parameters
    ----------
    records:
        One mapping of feature name to value per row to predict.
    schema:
        The model's `feature_schema`.

    Returns
    -------
    One row per record, the columns in schema order; numeric features as float64 (None
    becomes NaN, which the pipeline imputes), categorical ones as objects (None becomes NaN).

    Raises
    ------
    SchemaError
        There are no records, a record is not a mapping, some record lacks a feature or has
        a key that is not one, or a numeric feature's value is not a number.
    """
    if not isinstance(records, list) or not records:
        raise SchemaError("no records to predict")
    names = [entry["name"] for entry in schema]
    known = set(names)
    numeric = {entry["name"] for entry in schema if entry["type"] == NUMERIC}
    missing: set[str] = set()
    extra: set[str] = set()
    invalid: list[dict[str, Any]] = []
    invalid_count = 0
    for row, record in enumerate(records):
        if not isinstance(record, dict):
            invalid_count += 1
            if len(invalid) < MAX_LISTED_INVALID:
                invalid.append(
                    {"feature": None, "row": row, "value": _shown(record), "expected": "object"}
                )
            continue
        keys = {str(key) for key in record}
        missing |= known - keys
        extra |= keys - known
        for name in numeric & keys:
            value = record[name]
            if not _is_number(value):
                invalid_count += 1
                if len(invalid) < MAX_LISTED_INVALID:
                    invalid.append(
                        {"feature": name, "row": row, "value": _shown(value), "expected": "number"}
                    )
    if missing or extra or invalid_count:
        missing_list = [name for name in names if name in missing]
        extra_list = sorted(extra)
        parts = []
        if missing_list:
            parts.append(f"missing features: {missing_list}")
        if extra_list:
            parts.append(f"unknown features: {extra_list}")
        if invalid_count:
            parts.append(f"{invalid_count} invalid values (first: {invalid[0]})")
        raise SchemaError("; ".join(parts), missing=missing_list, extra=extra_list, invalid=invalid)
    columns: dict[str, Any] = {}
    for name in names:
        values = [record.get(name) for record in records]
        if name in numeric:
            columns[name] = np.array(
                [np.nan if value is None else float(value) for value in values], dtype=float
            )
        else:
            columns[name] = pd.Series(
                [np.nan if _is_missing(value) else value for value in values], dtype=object
            )
    return pd.DataFrame(columns, columns=names)


def _is_number(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return False
    return not math.isinf(float(value))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_SHOWN_TEXT else value[: _MAX_SHOWN_TEXT - 3] + "..."
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_TEXT else text[: _MAX_SHOWN_TEXT - 3] + "..."
