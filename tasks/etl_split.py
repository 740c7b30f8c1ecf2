"""A large CSV split across the dataops workers.

`parallel: N` cuts a CSV file into N byte ranges at record boundaries. Each range is a
`dataops.etl_part` task (read, transform, row checks, quarantine — a chunk at a time)
writing its clean rows as a Parquet part; a chord then runs `dataops.etl_commit` once
all parts are in, which runs the checks over the whole (unique, row_count, freshness),
stages the parts into the target in one transaction and records the job's result.
Every step can run twice: a part rewrites its files, the commit loads once per job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from core import jobs
from core.config import Settings
from core.db import session_scope
from core.errors import InvalidInput
from core.kinds.dataops import ETL, EtlParams, Source
from core.storage import BlobStore, artifact_store
from domain.dataops.spec import ROW_ID
from domain.dataops.stream import ChunkChecks
from tasks.base import JobContext
from tasks.etl_load import DatasetWriter, load_outputs
from tasks.etl_pass import EtlPass
from tasks.readers import csv_chunks, parquet_chunks
from tasks.sources import file_lineage, open_binary, read_lookups


def plan_parts(handle: Any, parallel: int) -> tuple[list[str], list[dict[str, int]]]:
    """The header and up to `parallel` byte ranges of about equal size, each starting on
    a record (a quoted field may span lines) with the line and record counts before it."""
    header_line = handle.readline()
    header = next(csv.reader([header_line.decode("utf-8", errors="replace")]), None)
    if not header:
        raise InvalidInput("the source is empty")
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(len(header_line))
    targets = [size * k // parallel for k in range(1, parallel)]
    parts: list[dict[str, int]] = []
    start, lines, records = len(header_line), 1, 0
    offset, part_lines, part_records = start, lines, records
    inside = False
    for line in handle:
        offset += len(line)
        lines += 1
        if line.count(b'"') % 2:
            inside = not inside
        if inside:
            continue
        if line.strip():
            records += 1
        if targets and offset >= targets[0]:
            parts.append(part_range(len(parts), start, offset, part_lines, part_records))
            start, part_lines, part_records = offset, lines, records
            while targets and targets[0] <= offset:
                targets.pop(0)
    if offset > start or not parts:
        parts.append(part_range(len(parts), start, offset, part_lines, part_records))
    return header, parts


def part_range(index: int, start: int, end: int, lines: int, records: int) -> dict[str, int]:
    return {
        "index": index,
        "start": start,
        "end": end,
        "lines_before": lines,
        "first_row": records,
    }


def check_split_source(ctx: JobContext, source: Source) -> None:
    name = source.path or ctx.file_record(source.file_id or "").name
    if source.format_of(name) != "csv":
        raise InvalidInput("parallel splits CSV files only")


def job_params(settings: Settings, job_id: str) -> tuple[EtlParams, int]:
    with session_scope(settings) as session:
        job = jobs.get_job(session=session, job_id=job_id)
        return EtlParams.model_validate(job.params), job.attempts


def part_folder(job_id: str) -> str:
    return f"{job_id}-parts"


def run_part(
    settings: Settings, job_id: str, header: list[str], part: dict[str, int], worker: str
) -> dict[str, Any]:
    params, attempt = job_params(settings, job_id)
    kind = ETL
    ctx = JobContext(job_id=job_id, kind=kind, attempt=attempt, worker=worker, settings=settings)
    steps = params
    lookups, _ = read_lookups(ctx, steps)
    source = params.resolved_source(ctx.now().date())
    store = artifact_store(settings)
    folder = part_folder(job_id)
    index = part["index"]
    with ctx.scratch("triops-part-") as tmp:
        quarantine = Path(tmp) / "quarantine.csv"
        run = EtlPass(
            ctx, steps, lookups, quarantine, first_row=part["first_row"], keep_row_ids=True
        )
        output = DatasetWriter(Path(tmp) / "part.parquet")
        with open_binary(ctx, source) as handle:
            handle.seek(part["start"])
            text = io.TextIOWrapper(
                io.BufferedReader(ByteRange(handle, part["end"] - part["start"])),
                encoding="utf-8",
                errors="replace",
                newline="",
            )
            reader = csv.reader(text, delimiter=source.delimiter, strict=True)
            size = settings.etl_chunk_rows
            chunks = csv_chunks(
                reader, header, source.delimiter, size, lines_before=part["lines_before"]
            )
            for clean in run.chunks(chunks):
                output.write(clean)
        output.close()
        parquet = store.put_file((folder, f"{index}.parquet"), str(output.path)).url
        rejects = None
        if quarantine.exists():
            rejects = store.put_file((folder, f"{index}.quarantine.csv"), str(quarantine)).url
    checks = run.checks
    return {
        "index": index,
        "read": run.read,
        "rows": run.rows,
        "by_rule": run.by_rule,
        "columns": run.columns or [],
        "quarantine_columns": run.quarantine_columns,
        "checked": checks.rows,
        "failed": checks.failed,
        "cases": checks.cases,
        "newest": {str(i): newest(parts) for i, parts in checks.newest.items()},
        "parquet": parquet,
        "quarantine": rejects,
    }


def newest(parts: list[pd.Series]) -> str | None:
    values = pd.concat(parts).dropna() if parts else pd.Series([], dtype=object)
    if not len(values) or not pd.api.types.is_datetime64_any_dtype(values.dtype):
        return None
    return pd.Timestamp(values.max()).isoformat()


class ByteRange(io.RawIOBase):
    """At most `length` bytes of a file, from where it is positioned."""

    def __init__(self, handle: Any, length: int) -> None:
        self.handle = handle
        self.left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            return 0
        data = self.handle.read(min(len(buffer), self.left))
        buffer[: len(data)] = data
        self.left -= len(data)
        return len(data)


def commit_parts(settings: Settings, job_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [p for p in parts if p.get("error")]
    if failed:
        error = failed[0]["error"]
        raise InvalidInput(
            f"part {failed[0]['index']} of {len(parts)} failed: {error['message']}",
            details={"part": failed[0]["index"], "error": error},
        )
    params, attempt = job_params(settings, job_id)
    kind = ETL
    ctx = JobContext(job_id=job_id, kind=kind, attempt=attempt, worker="commit", settings=settings)
    steps = params
    lookups, inputs = read_lookups(ctx, steps)
    run = EtlPass(ctx, steps, lookups, quarantine_path=None)
    checks = run.checks
    for part in parts:
        run.read += part["read"]
        for key, count in part["rows"].items():
            run.rows[key] += count
        for rule, count in part["by_rule"].items():
            run.add_rule(rule, count)
        checks.rows += part["checked"]
        for index, count in enumerate(part["failed"]):
            if index not in checks.hashes:  # unique is judged over every part below
                checks.count(index, count, part["cases"][index])
        for index, newest in part["newest"].items():
            if newest is not None:
                checks.newest[int(index)].append(pd.Series(pd.to_datetime([newest], utc=True)))
    run.columns = parts[0]["columns"]
    store = artifact_store(settings)
    source = params.resolved_source(ctx.now().date())
    lineage = {"path": source.path} if source.path else file_lineage(ctx, source)
    with ctx.scratch("triops-commit-") as tmp:
        quarantine = Path(tmp) / "quarantine.csv"
        merge_quarantine(store, [p["quarantine"] for p in parts], quarantine)
        result = load_outputs(
            ctx,
            params,
            run,
            part_frames(store, parts, checks, settings.etl_chunk_rows),
            [lineage, *inputs],
            Path(tmp),
        )
    result["parts"] = len(parts)
    return result


def part_frames(
    store: BlobStore, parts: list[dict[str, Any]], checks: ChunkChecks, size: int
) -> Iterator[pd.DataFrame]:
    """The parts' clean rows in file order, a chunk at a time; unique checks see them all."""
    for part in parts:
        with store.open(part["parquet"]) as handle:
            for frame, _ in parquet_chunks(handle, size):
                for index, hashes in checks.hashes.items():
                    checks.unique(index, hashes, frame)
                yield frame.drop(columns=[ROW_ID])


def merge_quarantine(store: BlobStore, urls: list[str | None], target: Path) -> None:
    """One quarantine file from the parts' (the same columns in each), header once."""
    with open(target, "wb") as out:
        for url in filter(None, urls):
            with store.open(url) as handle:
                header = handle.readline()
                if out.tell() == 0:
                    out.write(header)
                for block in iter(lambda: handle.read(1 << 20), b""):
                    out.write(block)
