from __future__ import annotations

import json

import numpy as np
import pandas as pd

from domain.dataops.profile import profile_frame


def test_a_profile_counts_nulls_and_describes_each_column() -> None:
    frame = pd.DataFrame(
        {"cpu": [1.0, np.nan, 3.0], "region": ["eu", "eu", None], "ok": [True, False, True]}
    )
    profile = profile_frame(frame)
    columns = {c["name"]: c for c in profile["profile"]}
    assert profile["rows"] == 3 and profile["columns"] == 3
    assert columns["cpu"]["nulls"] == 1 and columns["cpu"]["mean"] == 2.0
    assert columns["region"]["top"] == [{"value": "eu", "count": 2}]
    assert columns["ok"]["distinct"] == 2


def test_a_profile_is_plain_json_even_with_infinities_and_empty_frames() -> None:
    frame = pd.DataFrame({"x": [np.inf, 1.0], "t": pd.to_datetime(["2026-01-01", None])})
    json.dumps(profile_frame(frame), allow_nan=False)
    assert profile_frame(pd.DataFrame())["rows"] == 0
