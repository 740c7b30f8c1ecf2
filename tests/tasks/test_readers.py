"""Tables are read one way by every kind: broken CSV lines are counted and reported with
their line numbers, and a file that is not a table is a plain error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidInput
from tasks.readers import read_chunks, read_table

RAGGED = "a,b,c\n1,x,2.5\n2,y,3.5\n3,z,4.5,extra\n4,w\n5,v,6.5\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_ragged_line_is_reported_with_its_line_number_and_the_rest_is_typed(
    tmp_path: Path,
) -> None:
    table = read_table(write(tmp_path, "t.csv", RAGGED), "t.csv")
    assert table.frame["a"].tolist() == [1, 2, 5]
    assert str(table.frame["c"].dtype) == "float64"
    assert table.report() == {
        "count": 2,
        "lines": [
            {"line": 4, "reason": "expected 3 fields, found 4"},
            {"line": 5, "reason": "expected 3 fields, found 2"},
        ],
    }


def test_etl_chunks_and_the_whole_table_agree_on_the_broken_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", RAGGED)
    chunks = list(read_chunks(path, "t.csv", 2))
    broken = [line["_line_number"] for _, lines in chunks for line in lines]
    assert broken == [b["_line_number"] for b in read_table(path, "t.csv").broken]
    assert sum(len(frame) for frame, _ in chunks) == 3


def test_a_table_with_no_good_row_fails_with_a_plain_message(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "a,b\n1,2,3\n4\n")
    with pytest.raises(InvalidInput, match=r"no readable rows: all 2 lines .* \(line 2: expected"):
        read_table(path, "t.csv")


def test_max_rows_reads_only_the_first_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "t.csv", RAGGED), "t.csv", max_rows=2)
    assert table.frame["a"].tolist() == [1, 2]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("app.log", "081109 203615 148 INFO dfs.DataNode: PacketResponder 1\n", "is a log"),
        (
            "notes.txt",
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block\n"
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 2 for block\n",
            "does not look like a table",
        ),
        ("empty.csv", "", "no readable header"),
    ],
)
def test_a_file_that_is_not_a_table_is_a_clear_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(InvalidInput, match=message):
        read_table(path, name)
    with pytest.raises(InvalidInput, match=message):
        list(read_chunks(path, name, 10))


def test_a_one_column_table_with_a_short_header_is_a_table(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, "ids.csv", "host id\nweb-1\nweb-2\n"), "ids.csv")
    assert table.frame["host id"].tolist() == ["web-1", "web-2"]


def test_a_quote_never_closed_is_one_broken_line_not_a_swallowed_file(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", 'a,b\n1,2\n3,"open\n4,5\n6,7\n')
    table = read_table(path, "t.csv")
    assert table.frame["a"].tolist() == [1]
    [broken] = table.broken
    assert broken["_line_number"] == 3
    assert (
        broken["_reason"] == "not readable as CSV: a quoted field opened on line 3 is never closed"
    )


def test_text_after_a_closing_quote_is_a_broken_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", 'a,b\n1,"x"y\n2,z\n')
    table = read_table(path, "t.csv")
    assert table.frame["a"].tolist() == [2]
    assert [b["_line_number"] for b in table.broken] == [2]
