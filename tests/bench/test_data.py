"""The labelled data ships inside the repository: a fresh clone needs nothing beside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.data import REPO_ROOT, MissingData, benchmarks_dir, data_file

LOGHUB_SETS = ("Apache", "BGL", "HDFS", "Hadoop", "Linux", "OpenSSH", "Spark", "Zookeeper")


def test_the_data_folder_is_inside_the_repository() -> None:
    assert benchmarks_dir().resolve().is_relative_to(REPO_ROOT.resolve())


@pytest.mark.parametrize("name", LOGHUB_SETS)
def test_every_loghub_set_ships_with_its_ground_truth(name: str) -> None:
    folder = benchmarks_dir() / "loghub" / name
    assert (folder / f"{name}_2k.log").stat().st_size > 0
    assert (folder / f"{name}_2k.log_structured_corrected.csv").stat().st_size > 0


def test_the_licences_and_the_nab_windows_ship_beside_the_data() -> None:
    for part in ("loghub/LICENSE", "nab/LICENSE", "nab/combined_windows.json", "README.md"):
        assert (benchmarks_dir() / part).is_file(), part
    assert len(list((benchmarks_dir() / "nab" / "realKnownCause").glob("*.csv"))) == 7


def test_a_missing_data_file_is_an_error_that_names_it() -> None:
    with pytest.raises(MissingData, match=r"bench/data/loghub/Nope\.log is missing"):
        data_file("loghub", "Nope.log")


def test_no_test_benchmark_or_make_target_reads_outside_the_repository() -> None:
    outside = re.compile(r"\.\./shared|TRIOPS_BENCHMARKS_DIR|parent\s*/\s*\"shared\"")
    sources = [REPO_ROOT / "Makefile", REPO_ROOT / "pyproject.toml", REPO_ROOT / ".ci" / "run"]
    for folder in ("tests", "bench"):
        sources += [p for p in (REPO_ROOT / folder).rglob("*.py") if "data" not in p.parts]
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sources
        if path != Path(__file__) and outside.search(path.read_text())
    ]
    assert offenders == []
