from __future__ import annotations

import pandas as pd

from domain.dataops.load import Fingerprint, content_fingerprint

OLD = pd.DataFrame({"id": [1, 2, 3], "v": ["a", "b", "c"]})


def test_the_fingerprint_follows_content_and_column_names() -> None:
    assert content_fingerprint(OLD) == content_fingerprint(OLD.copy())
    assert content_fingerprint(OLD) != content_fingerprint(OLD.rename(columns={"v": "w"}))
    assert content_fingerprint(OLD) != content_fingerprint(OLD.iloc[::-1])


def test_a_fingerprint_fed_in_chunks_equals_the_whole_tables() -> None:
    chunked = Fingerprint(["id", "v"])
    for start in (0, 2):
        chunked.update(OLD.iloc[start : start + 2])
    assert chunked.hexdigest() == content_fingerprint(OLD)
