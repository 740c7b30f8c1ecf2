"""Load modes and the content fingerprint of a dataset version.

What a load changes in its target is computed by the database (see `core.warehouse`),
so the rows compared are never all held in a worker's memory.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import pandas as pd

Mode = Literal["append", "replace", "upsert"]


class Fingerprint:
    """sha256 of a table's column names and values (row order included), fed chunk by
    chunk: the digest of the chunks equals the digest of the whole table, since each
    row's hash depends on that row only."""

    def __init__(self, columns: list[str]) -> None:
        self.digest = hashlib.sha256()
        self.digest.update("\x1f".join(map(str, columns)).encode())

    def update(self, frame: pd.DataFrame) -> None:
        self.digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def content_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a table's column names and values (row order included)."""
    fingerprint = Fingerprint([str(c) for c in frame.columns])
    fingerprint.update(frame)
    return fingerprint.hexdigest()
