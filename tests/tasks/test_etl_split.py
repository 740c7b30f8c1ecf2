"""Splitting a CSV file for a parallel ETL: the parts cover the body exactly once and
start on records, even when a quoted field spans lines."""

from __future__ import annotations

import csv
import io
import itertools

import pytest

from core.errors import InvalidInput
from core.kinds.dataops import Source
from tasks.etl_split import plan_parts


def _body(rows: int) -> bytes:
    lines = ["id,note"]
    for i in range(rows):
        note = f'"line one\nline two of {i}"' if i % 10 == 3 else f"plain {i}"
        lines.append(f"{i},{note}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("parallel", [1, 2, 3, 7])
def test_parts_cover_the_body_once_and_start_on_records(parallel: int) -> None:
    data = _body(200)
    header, parts = plan_parts(io.BytesIO(data), parallel)
    assert header == ["id", "note"]
    assert len(parts) == parallel
    assert parts[0]["start"] == len(b"id,note\n") and parts[-1]["end"] == len(data)
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(parts))
    ids = []
    for part in parts:
        chunk = data[part["start"] : part["end"]].decode()
        rows = list(csv.reader(io.StringIO(chunk, newline="")))
        assert int(rows[0][0]) == part["first_row"]  # starts on a record, numbered right
        physical = data[: part["start"]].count(b"\n")
        assert physical == part["lines_before"]
        ids += [int(r[0]) for r in rows]
    assert ids == list(range(200))


def test_more_parts_than_records_gives_fewer_parts() -> None:
    header, parts = plan_parts(io.BytesIO(b"a,b\n1,2\n"), 4)
    assert header == ["a", "b"] and len(parts) == 1


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        plan_parts(io.BytesIO(b""), 2)


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("sales.csv", None, "csv"),
        ("sales.txt", None, "csv"),
        ("events.jsonl", None, "jsonl"),
        ("events.JSON", None, "jsonl"),
        ("table.parquet", None, "parquet"),
        ("table.bin", "parquet", "parquet"),
    ],
)
def test_a_source_format_comes_from_the_name_unless_given(
    name: str, given: str | None, expected: str
) -> None:
    source = Source.model_validate({"path": name, **({"format": given} if given else {})})
    assert source.format_of(name) == expected
