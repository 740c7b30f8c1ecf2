"""The labelled data the tests and benchmarks use, shipped with the repository.

`bench/data/` holds eight Loghub-2k log sets with their corrected ground truth and the
seven NAB `realKnownCause` series with their anomaly windows (see `bench/data/README.md`
for sources, licences and citations). Nothing here is read from outside the repository.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(__file__).resolve().parent


class MissingData(FileNotFoundError):
    """A data file the tests or benchmarks need is not in the checkout."""


def benchmarks_dir() -> Path:
    """The folder holding `loghub/`, `nab/` and the reference `score.py`."""
    return DATA_DIR


def data_file(*parts: str) -> Path:
    """A file under `bench/data/`; MissingData names it when the checkout lacks it."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        raise MissingData(
            f"benchmark data file {path.relative_to(REPO_ROOT)} is missing from the checkout "
            "(it ships with the repository: restore it with `git checkout -- bench/data`)"
        )
    return path
