"""Profiling a table: shape, types, nulls and basic statistics per column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from domain.dataops.values import json_value


def profile_frame(frame: pd.DataFrame, *, top_values: int = 5) -> dict[str, Any]:
    """Profile every column of a DataFrame.

    Parameters
    ----------
    frame:
        Any table; columns of any dtype.
    top_values:
        How many most frequent values to list for non-numeric columns.

    Returns
    -------
    `rows`, `columns` and, per column: `dtype`, `nulls`, `null_ratio`, `distinct`, and
    for numeric columns `infinite` (count), and over the finite values `min`, `max`,
    `mean`, `std`, `p50`; for others the most
    frequent values with their counts.
    """
    rows = len(frame)
    columns: list[dict[str, Any]] = []
    for name in frame.columns:
        series = frame[name]
        nulls = int(series.isna().sum())
        info: dict[str, Any] = {
            "name": str(name),
            "dtype": str(series.dtype),
            "nulls": nulls,
            "null_ratio": round(nulls / rows, 6) if rows else 0.0,
            "distinct": int(series.nunique(dropna=True)),
        }
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            finite = series.replace([np.inf, -np.inf], np.nan)
            described = finite.describe()
            info.update(
                infinite=int(series.isin([np.inf, -np.inf]).sum()),
                min=json_value(described.get("min")),
                max=json_value(described.get("max")),
                mean=json_value(described.get("mean")),
                std=json_value(described.get("std")),
                p50=json_value(described.get("50%")),
            )
        else:
            counts = series.astype("string").value_counts(dropna=True).head(top_values)
            info["top"] = [{"value": str(k), "count": int(v)} for k, v in counts.items()]
        columns.append(info)
    return {"rows": rows, "columns": len(frame.columns), "profile": columns}
