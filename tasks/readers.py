"""Reading tables from files, one way for every job kind.

CSV is read with the standard `csv` module first: a line whose field count differs from
the header's is *broken* — kept aside with its line number and the reason, never
dropped silently and never an exception of pandas'. ETL reads every field as text and
quarantines the broken lines (`read_chunks`); profiling and training read a typed frame
and report the broken lines in their result (`read_table`). Only when no row is left
does reading fail, with a plain message. A file that is not a table at all (a log, a
single column of prose) is refused with a message that says so.

JSON Lines and Parquet are read by pandas and pyarrow; their formats have no "broken
line" of the CSV kind (a bad JSON line is an error naming the file).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InvalidInput
from core.kinds.common import TableFormat as Format
from core.kinds.common import table_format as format_of

Chunk = tuple[pd.DataFrame, list[dict[str, Any]]]
"""Rows as read (at most the chunk size), and the broken lines met among them."""

REPORTED_LINES = 20
"""How many broken lines a profile or a training result lists (all are counted)."""


def broken_line(line_number: int, raw: str, expected: int, found: int) -> dict[str, Any]:
    """A CSV line with the wrong number of fields, as ETL quarantines it."""
    return {
        "_line_number": line_number,
        "_raw": raw,
        "_rule": "parse",
        "_reason": f"expected {expected} fields, found {found}",
    }


def _rows(
    reader: Any, width: int, delimiter: str, lines_before: int
) -> Iterator[list[str] | dict[str, Any]]:
    """The rows of a csv reader (strict quoting) positioned after the header: each good
    row as its fields, each broken one as its quarantine record. A line the csv module
    cannot parse (a quote never closed, text after a closing quote) is broken too."""
    while True:
        start = lines_before + reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "unexpected end of data" in reason:
                reason = f"a quoted field opened on line {start} is never closed"
            yield {
                "_line_number": start,
                "_raw": "",
                "_rule": "parse",
                "_reason": f"not readable as CSV: {reason}",
            }
            continue
        if not row:
            continue
        if len(row) != width:
            line = lines_before + reader.line_num
            yield broken_line(line, delimiter.join(row), width, len(row))
            continue
        yield row


def _check_header(header: list[str], name: str, delimiter: str) -> None:
    """A one-column "table" whose header reads like prose is a file of text lines."""
    if len(header) == 1 and (len(header[0]) > 64 or len(header[0].split()) > 4):
        raise InvalidInput(
            f"file {name!r} does not look like a table: its first line has no "
            f"{delimiter!r} delimiter and reads as text ({header[0][:60]!r}...)"
        )


def csv_chunks(
    reader: Any, header: list[str], delimiter: str, size: int, *, lines_before: int
) -> Iterator[Chunk]:
    """Chunks of `size` text rows from a csv reader positioned after the header;
    `lines_before` is the file's line number where the reader started. Empty lines are
    skipped; there is always at least one chunk, so the columns are known."""
    rows: list[list[str]] = []
    broken: list[dict[str, Any]] = []
    yielded = False
    for row in _rows(reader, len(header), delimiter, lines_before):
        if isinstance(row, dict):
            broken.append(row)
            continue
        rows.append(row)
        if len(rows) == size:
            yield text_frame(rows, header), broken
            rows, broken, yielded = [], [], True
    if rows or broken or not yielded:
        yield text_frame(rows, header), broken


def text_frame(rows: list[list[str]], header: list[str]) -> pd.DataFrame:
    """Rows of text fields as a frame of strings; an empty field is a null."""
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.where(frame != "", None)


def read_csv_chunks(path: Path, delimiter: str, size: int, *, name: str = "") -> Iterator[Chunk]:
    """A CSV file as chunks of text rows (casts are the spec's business)."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise InvalidInput(f"file {name or path.name!r} has no readable header") from exc
        _check_header(header, name or path.name, delimiter)
        yield from csv_chunks(reader, header, delimiter, size, lines_before=0)


def parquet_chunks(handle: Any, size: int) -> Iterator[Chunk]:
    """A Parquet file (path or binary handle) as chunks of `size` rows."""
    parquet = pq.ParquetFile(handle)
    yielded = False
    for batch in parquet.iter_batches(batch_size=size):
        yield batch.to_pandas(), []
        yielded = True
    if not yielded:
        yield parquet.schema_arrow.empty_table().to_pandas(), []


def read_chunks(
    path: Path, name: str, size: int, *, declared: Format | None = None, delimiter: str = ","
) -> Iterator[Chunk]:
    """Any table file as chunks: CSV as text rows with its broken lines, JSON Lines and
    Parquet as pandas reads them. Unreadable files are InvalidInput naming the file."""
    kind = format_of(name, declared)
    try:
        if kind == "parquet":
            yield from parquet_chunks(path, size)
        elif kind == "jsonl":
            yielded = False
            with pd.read_json(path, lines=True, dtype=False, chunksize=size) as reader:
                for frame in reader:
                    yield frame, []
                    yielded = True
            if not yielded:
                yield pd.DataFrame(), []
        else:
            yield from read_csv_chunks(path, delimiter, size, name=name)
    except (ValueError, OSError, pd.errors.EmptyDataError, pa.ArrowException) as exc:
        raise InvalidInput(f"file {name!r} is not readable as {kind}: {exc}") from exc


@dataclass
class Table:
    """A whole table read from a file, typed as pandas infers it, and what was set aside."""

    frame: pd.DataFrame
    broken: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """The broken lines for a job result: how many, and the first ones."""
        return {
            "count": len(self.broken),
            "lines": [
                {"line": b["_line_number"], "reason": b["_reason"]}
                for b in self.broken[:REPORTED_LINES]
            ],
        }


def read_table(
    path: Path,
    name: str,
    *,
    max_rows: int | None = None,
    declared: Format | None = None,
    delimiter: str = ",",
) -> Table:
    """A table file read whole (or its first `max_rows` rows), typed.

    CSV lines are split by the `csv` module, as ETL splits them; the good rows are then
    typed by pandas' own inference, so a column of numbers is numeric. Broken lines are
    reported, not fatal, unless nothing else is left.
    """
    kind = format_of(name, declared)
    if kind != "csv":
        frames = [chunk for chunk, _ in read_chunks(path, name, max_rows or 100_000, declared=kind)]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return Table(frame.head(max_rows) if max_rows else frame)
    good = io.StringIO()
    writer = csv.writer(good, delimiter=delimiter, lineterminator="\n")
    broken: list[dict[str, Any]] = []
    rows = 0
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise InvalidInput(f"file {name!r} has no readable header") from exc
        _check_header(header, name, delimiter)
        writer.writerow(header)
        for row in _rows(reader, len(header), delimiter, 0):
            if isinstance(row, dict):
                broken.append(row)
                continue
            writer.writerow(row)
            rows += 1
            if max_rows is not None and rows >= max_rows:
                break
    if rows == 0 and broken:
        first = broken[0]
        raise InvalidInput(
            f"file {name!r} has no readable rows: all {len(broken)} lines after the header "
            f"are broken (line {first['_line_number']}: {first['_reason']})",
            details={"broken_lines": Table(pd.DataFrame(), broken).report()},
        )
    good.seek(0)
    frame = pd.read_csv(good, sep=delimiter)
    return Table(frame, broken)
