"""Cell values as JSON can hold them, for profiles and check reports."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd


def json_value(value: Any) -> Any:
    """A JSON-ready value: None for nulls, NaN and infinities; ISO text for times; Python
    numbers for numpy scalars; lists element by element."""
    if isinstance(value, list):
        return [json_value(v) for v in value]
    if value is None or (np.ndim(value) == 0 and bool(pd.isna(value))):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
