"""`dataops.*` kinds: profile, validate, etl."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from celery import chord, shared_task
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import dataset_versions, warehouse
from core.catalog import CATALOG
from core.config import Settings, get_settings, normalise_database_url
from core.db import get_engine, make_engine, session_scope
from core.errors import InvalidInput, NotFound, TriopsError
from core.params.dataops import EtlParams, ProfileParams, Source, ValidateParams
from core.storage import BlobStore
from core.tables import Job, JobStatus
from domain.dataops.checks import CheckReport
from domain.dataops.load import Fingerprint
from domain.dataops.profile import profile_frame
from domain.dataops.spec import ROW_ID, EtlSteps, dataset_refs, validate_against_columns
from domain.dataops.stream import ChunkChecks, whole_input_reason
from domain.dataops.transform import KeyHashes, apply_transforms
from tasks.base import TRANSIENT, Deferred, JobContext, error_dict, finish_deferred, job_task
from tasks.readers import Chunk, csv_chunks, parquet_chunks, read_chunks, read_table

logger = logging.getLogger("triops.tasks")

MAX_CASES = 100


@job_task("dataops.profile")
def profile(ctx: JobContext, params: ProfileParams) -> dict[str, Any]:
    """Profile an uploaded CSV or a dataset version: rows, dtypes, nulls, statistics."""
    if params.dataset is not None:
        frame, lineage = read_dataset(ctx, params.dataset)
        result = profile_frame(frame.head(params.sample_rows) if params.sample_rows else frame)
        result["dataset"] = lineage
        return result
    assert params.file_id is not None
    record = ctx.file_record(params.file_id)
    with ctx.local_file(params.file_id) as path:
        table = read_table(path, record.name, max_rows=params.sample_rows)
    result = profile_frame(table.frame)
    result["file"] = {"id": record.id, "name": record.name, "sha256": record.sha256}
    result["broken_lines"] = table.report()
    return result


# --- reading sources ------------------------------------------------------------------
#
# A source is read as chunks of at most `TRIOPS_ETL_CHUNK_ROWS` rows: (rows as read, the
# lines that could not be parsed); see tasks/readers.py.


def _data_file(ctx: JobContext, relative: str) -> Path:
    """A file under the data directory; nothing outside it, even through links."""
    root = ctx.settings.data_root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput("path must stay inside the data directory")
    if not path.is_file():
        raise InvalidInput(f"no file {relative!r} in the data directory")
    return path


@contextmanager
def open_source(
    ctx: JobContext, source: Source, parameters: dict[str, str] | None = None
) -> Iterator[tuple[Iterator[Chunk], dict[str, Any]]]:
    """The source's chunks and its lineage entry."""
    size = ctx.settings.etl_chunk_rows
    if source.connection is not None:
        lineage = {
            "connection": source.connection,
            "query_sha256": hashlib.sha256((source.query or "").encode()).hexdigest(),
            "parameters": parameters or {},
        }
        yield _read_sql(ctx, source, parameters or {}, size), lineage
    elif source.dataset is not None:
        with ctx.open_dataset(source.dataset) as (handle, row):
            yield parquet_chunks(handle, size), {"dataset": source.dataset, "sha256": row.sha256}
    elif source.file_id is not None:
        record = ctx.file_record(source.file_id)
        with ctx.local_file(source.file_id) as path:
            lineage = {"file_id": record.id, "name": record.name, "sha256": record.sha256}
            yield (
                read_chunks(
                    path, record.name, size, declared=source.format, delimiter=source.delimiter
                ),
                lineage,
            )
    else:
        assert source.path is not None
        path = _data_file(ctx, source.path)
        chunks = read_chunks(
            path, path.name, size, declared=source.format, delimiter=source.delimiter
        )
        yield chunks, {"path": source.path}


def read_dataset(ctx: JobContext, ref: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A dataset version (`name@version`) and its lineage entry."""
    frame, row = ctx.dataset_frame(ref)
    return frame, {"dataset": ref, "sha256": row.sha256}


def _lookups(
    ctx: JobContext, steps: EtlSteps
) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """The dataset versions joins and referential checks read, and their lineage."""
    frames: dict[str, pd.DataFrame] = {}
    inputs = []
    for ref in dataset_refs(list(steps.transforms), list(steps.checks)):
        frames[ref], lineage = read_dataset(ctx, ref)
        inputs.append(lineage)
    return frames, inputs


def _read_sql(
    ctx: JobContext, source: Source, parameters: dict[str, str], size: int
) -> Iterator[Chunk]:
    """Run the query read-only on the named connection; `:name` binds a parameter."""
    url = ctx.settings.sql_connections.get(source.connection or "")
    if url is None:
        raise InvalidInput(f"unknown connection {source.connection!r}")
    engine = make_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            result = conn.execution_options(stream_results=True).execute(
                text(source.query or ""), parameters
            )
            columns = list(result.keys())
            yielded = False
            while rows := result.fetchmany(size):
                yield pd.DataFrame(rows, columns=columns), []
                yielded = True
            if not yielded:
                yield pd.DataFrame(columns=columns), []
    except (SQLAlchemyError, ValueError) as exc:
        raise InvalidInput(f"query on {source.connection!r} failed: {exc}") from exc
    finally:
        engine.dispose()


def _whole(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
    """All chunks as one, for the transforms that need the whole input."""
    frames, broken = [], []
    for frame, lines in chunks:
        frames.append(frame)
        broken.extend(lines)
    yield pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], broken


def _steps(params: ValidateParams) -> EtlSteps:
    return EtlSteps.model_validate({"transforms": params.transforms, "checks": params.checks})


def _check_columns(steps: EtlSteps, frame: pd.DataFrame) -> None:
    problems = validate_against_columns(
        list(steps.transforms), list(steps.checks), [str(c) for c in frame.columns]
    )
    if problems:
        raise InvalidInput(f"the spec does not fit the source: {problems}", details=problems)


def _report(report: CheckReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "results": report.results,
        "failures": report.failures[:500],
    }


class _Pass:
    """One pass over a source's chunks: transforms, checks and quarantine, chunk by chunk,
    with every row counted. Holds one chunk at a time, plus the key hashes of
    `deduplicate` and `unique` (8 bytes a key)."""

    def __init__(
        self,
        ctx: JobContext,
        steps: EtlSteps,
        lookups: dict[str, pd.DataFrame],
        quarantine_path: Path | None,
        *,
        first_row: int = 0,
        keep_row_ids: bool = False,
    ) -> None:
        self.ctx = ctx
        self.keep_row_ids = keep_row_ids
        self.steps = steps
        self.lookups = lookups
        self.whole = whole_input_reason(list(steps.transforms))
        self.checks = ChunkChecks(
            list(steps.checks), now=ctx.now(), max_cases=MAX_CASES, lookups=lookups
        )
        self.seen: dict[str, KeyHashes] | None = None if self.whole else {}
        self.read = 0
        self.parsed = first_row  # the next chunk's first `_row` id: rows that parsed
        self.rows = {"loaded": 0, "quarantined": 0, "filtered": 0, "deduplicated": 0}
        self.aggregated = 0
        self.by_rule: dict[str, int] = {}
        self.columns: list[str] | None = None
        self.quarantine_path = quarantine_path
        self.quarantine_columns: list[str] = []

    def chunks(self, source: Iterator[Chunk]) -> Iterator[pd.DataFrame]:
        """The clean rows of each chunk (no `_row` column), in order."""
        for frame, broken in _whole(source) if self.whole else source:
            if self.columns is None:
                _check_columns(self.steps, frame)
            offset = self.parsed
            self.parsed += len(frame)
            self.read += len(frame) + len(broken)
            transformed = apply_transforms(
                frame,
                list(self.steps.transforms),
                self.lookups,
                row_offset=offset,
                seen=self.seen,
            )
            checked = transformed.frame
            if self.columns is None:
                self.columns = [str(c) for c in checked.columns if c != ROW_ID]
                source_columns = [str(c) for c in frame.columns]
                extra = [c for c in self.columns if c not in source_columns]
                self.quarantine_columns = [
                    *QUARANTINE_META[:4],
                    *source_columns,
                    *extra,
                    QUARANTINE_META[4],
                ]
            reasons = self.checks.run(checked)
            failing = checked[ROW_ID].isin(list(reasons)).to_numpy()
            counts = transformed.counts
            for kind in ("filtered", "deduplicated"):
                self.rows[kind] += int(counts[kind])
            self.aggregated += int(counts.get("aggregated", 0))
            for rule, count in counts.get("by_rule", {}).items():
                self.add_rule(rule, int(count))
            for row_reasons in reasons.values():
                for reason in {r.split(":", 1)[0] for r in row_reasons}:
                    self.add_rule(f"check:{reason}", 1)
            if broken:
                self.add_rule("parse", len(broken))
            self._write_quarantine(
                frame, offset, transformed.quarantined, checked[failing], reasons, broken
            )
            clean = checked[~failing].reset_index(drop=True)
            if not self.keep_row_ids:
                clean = clean.drop(columns=[ROW_ID])
            self.rows["loaded"] += len(clean)
            self.ctx.progress(0.5, f"{self.read} rows read")
            yield clean

    def add_rule(self, rule: str, count: int) -> None:
        if count:
            self.by_rule[rule] = self.by_rule.get(rule, 0) + count

    def _write_quarantine(
        self,
        source: pd.DataFrame,
        offset: int,
        rejected: pd.DataFrame,
        failing: pd.DataFrame,
        reasons: dict[int, list[str]],
        broken: list[dict[str, Any]],
    ) -> None:
        parts = [rejected]
        if len(failing):
            rows = failing[ROW_ID].to_numpy()
            # The row as it came in (what someone fixes at the source), or the aggregated
            # row when the checks ran after an aggregate.
            original = (failing if self.aggregated else source.iloc[rows - offset]).copy()
            original[ROW_ID] = rows
            original["_rule"] = "check"
            original["_reason"] = ["; ".join(reasons[int(r)]) for r in rows]
            parts.append(original)
        if broken:
            parts.append(pd.DataFrame(broken))
        table = (
            pd.concat([p for p in parts if len(p)], ignore_index=True)
            if any(len(p) for p in parts)
            else None
        )
        if table is None:
            return
        self.rows["quarantined"] += len(table)
        if self.quarantine_path is None:
            return
        header = not self.quarantine_path.exists()
        table = table.reindex(columns=self.quarantine_columns)
        for column in (ROW_ID, "_line_number"):
            table[column] = table[column].astype("Int64")
        table.to_csv(self.quarantine_path, mode="a", header=header, index=False)

    def totals(self) -> dict[str, Any]:
        rows: dict[str, Any] = {"read": self.read, **self.rows, "by_rule": self.by_rule}
        if self.aggregated:
            rows["aggregated"] = self.aggregated
        accounted = sum(self.rows.values()) + self.aggregated
        if self.read != accounted:
            raise RuntimeError(
                f"row accounting does not add up ({self.read} read, {accounted} accounted "
                "for); nothing was loaded"
            )
        return rows


QUARANTINE_META = ["_row", "_line_number", "_rule", "_reason", "_raw"]


@job_task("dataops.validate")
def validate(ctx: JobContext, params: ValidateParams) -> dict[str, Any]:
    """Run the spec's checks (after its transforms) and return the failure report."""
    steps = _steps(params)
    lookups, _inputs = _lookups(ctx, steps)
    run = _Pass(ctx, steps, lookups, quarantine_path=None)
    with open_source(ctx, params.source) as (chunks, _lineage):
        for _clean in run.chunks(chunks):
            pass
    report = run.checks.finish(run.columns or [])
    return {
        "rows": run.read,
        "unparsed_lines": run.by_rule.get("parse", 0),
        **_report(report),
    }


@job_task("dataops.etl")
def etl(ctx: JobContext, params: EtlParams) -> dict[str, Any]:
    """Extract → transform → check → quarantine → load, a chunk at a time; every row
    accounted for, and nothing loaded unless the whole input passes."""
    if params.parallel > 1:
        return _split(ctx, params)
    steps = _steps(params)
    today = ctx.now().date()
    lookups, inputs = _lookups(ctx, steps)
    with tempfile.TemporaryDirectory(prefix="triops-etl-") as tmp:
        run = _Pass(ctx, steps, lookups, quarantine_path=Path(tmp) / "quarantine.csv")
        source = params.resolved_source(today)
        with open_source(ctx, source, params.resolved_parameters(today)) as (chunks, lineage):
            return _load(ctx, params, run, run.chunks(chunks), [lineage, *inputs], Path(tmp))


def _load(
    ctx: JobContext,
    params: EtlParams,
    run: _Pass,
    frames: Iterator[pd.DataFrame],
    lineage: list[dict[str, Any]],
    tmp: Path,
) -> dict[str, Any]:
    """Stage the clean frames into the target table and the dataset file, judge the whole
    run, then apply the load (one transaction) and record the dataset version."""
    target = params.target
    output = _DatasetWriter(tmp / "output.parquet") if target.dataset else None
    with _load_transaction(ctx, params, target.table) as loading:
        for clean in frames:
            if loading is not None:
                loading.stage(clean)
            if output is not None:
                output.write(clean)
        result = _verdict(ctx, params, run, tmp / "quarantine.csv")
        if loading is not None:
            ctx.progress(0.8, f"applying {run.rows['loaded']} rows to {target.table}")
            result["target_changes"] = loading.finish()
            result["table"] = loading.name
    # The load is committed; the dataset version is recorded after it.
    if output is not None and target.dataset:
        result["dataset"] = _save_dataset(ctx, target.dataset, output, lineage)
    return result


@contextmanager
def _load_transaction(
    ctx: JobContext, params: EtlParams, table: str | None
) -> Iterator[warehouse.Load | None]:
    """The warehouse load, in one transaction from the first staged chunk to the commit."""
    if not table:
        yield None
        return
    with get_engine(ctx.settings).begin() as conn:
        yield warehouse.Load(
            conn,
            table=table,
            mode=params.target.mode,
            keys=params.target.keys,
            job_id=ctx.job_id,
            now=ctx.now(),
        )


def _verdict(ctx: JobContext, params: EtlParams, run: _Pass, quarantine: Path) -> dict[str, Any]:
    """The result so far; raises (so nothing is loaded) when a dataset-level error check
    failed or the quarantine is over `max_reject_ratio`."""
    report = run.checks.finish(run.columns or [])
    rows = run.totals()
    artifacts = []
    if rows["quarantined"]:
        artifacts.append(ctx.save_artifact("quarantine.csv", quarantine, "text/csv").public())
    result: dict[str, Any] = {
        "rows": rows,
        "checks": _report(report),
        "artifacts": artifacts,
        "target_changes": {"inserted": 0, "updated": 0, "deleted": 0},
    }
    failed_dataset_checks = [
        r
        for r in report.results
        if not r["passed"] and r["severity"] == "error" and r["level"] == "dataset"
    ]
    if failed_dataset_checks:
        raise InvalidInput(
            "dataset checks failed; nothing was loaded: "
            + "; ".join(r["message"] for r in failed_dataset_checks),
            details=result,
        )
    read, quarantined = rows["read"], rows["quarantined"]
    ratio = quarantined / read if read else 0.0
    if ratio > params.max_reject_ratio:
        raise InvalidInput(
            f"{quarantined} of {read} rows ({ratio:.1%}) went to quarantine, over "
            f"max_reject_ratio {params.max_reject_ratio:.1%}; nothing was loaded",
            details=result,
        )
    return result


class _DatasetWriter:
    """The output as a Parquet file written chunk by chunk, with its fingerprint and the
    profile of its first chunk (of the whole output when it fits in one)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.fingerprint: Fingerprint | None = None
        self.rows = 0
        self.first: pd.DataFrame | None = None
        self.chunks = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.fingerprint is None:
            self.fingerprint = Fingerprint([str(c) for c in frame.columns])
        self.fingerprint.update(frame)
        if self.first is None or (not len(self.first) and len(frame)):
            self.first = frame
        if not len(frame):
            return
        if self.writer is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.Table.from_pandas(frame, schema=self.writer.schema, preserve_index=False)
        self.writer.write_table(table)
        self.rows += len(frame)
        self.chunks += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif self.first is not None:
            self.first.to_parquet(self.path, index=False)


def _save_dataset(
    ctx: JobContext, name: str, output: _DatasetWriter, inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    output.close()
    assert output.first is not None and output.fingerprint is not None
    artifact = ctx.save_artifact(f"{name}.parquet", output.path, "application/vnd.apache.parquet")
    stats = profile_frame(output.first)
    if output.chunks > 1:
        stats["rows"] = output.rows
        stats["sampled_rows"] = len(output.first)  # statistics of the first chunk
    with ctx.session() as session:
        version, created = dataset_versions.add_version(
            session=session,
            name=name,
            now=ctx.now(),
            values={
                "fingerprint": output.fingerprint.hexdigest(),
                "rows": output.rows,
                "columns": [{"name": c["name"], "dtype": c["dtype"]} for c in stats["profile"]],
                "stats": stats,
                "url": artifact.url,
                "sha256": artifact.sha256,
                "size": artifact.size,
                "job_id": ctx.job_id,
                "inputs": inputs,
            },
        )
        return {"name": name, "version": version.version, "new": created, "rows": version.rows}


# --- a large file split across the dataops workers --------------------------------------
#
# `parallel: N` cuts a CSV file into N byte ranges at record boundaries. Each range is a
# `dataops.etl_part` task (read, transform, row checks, quarantine — a chunk at a time)
# writing its clean rows as a Parquet part; a chord then runs `dataops.etl_commit` once
# all parts are in, which runs the checks over the whole (unique, row_count, freshness),
# stages the parts into the target in one transaction and records the job's result.
# Every step can run twice: a part rewrites its files, the commit loads once per job.


@contextmanager
def _open_binary(ctx: JobContext, source: Source) -> Iterator[Any]:
    """The source file opened for binary reading (seekable, local or in the store)."""
    if source.file_id is not None:
        with ctx.open_file(source.file_id) as handle:
            yield handle
    else:
        assert source.path is not None
        with open(_data_file(ctx, source.path), "rb") as handle:
            yield handle


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
            parts.append(_part(len(parts), start, offset, part_lines, part_records))
            start, part_lines, part_records = offset, lines, records
            while targets and targets[0] <= offset:
                targets.pop(0)
    if offset > start or not parts:
        parts.append(_part(len(parts), start, offset, part_lines, part_records))
    return header, parts


def _part(index: int, start: int, end: int, lines: int, records: int) -> dict[str, int]:
    return {
        "index": index,
        "start": start,
        "end": end,
        "lines_before": lines,
        "first_row": records,
    }


def _split(ctx: JobContext, params: EtlParams) -> Deferred:
    source = params.resolved_source(ctx.now().date())
    _check_split_source(ctx, source)
    with _open_binary(ctx, source) as handle:
        header, parts = plan_parts(handle, params.parallel)
    _check_columns(_steps(params), pd.DataFrame(columns=header))
    ctx.progress(0.05, f"split into {len(parts)} parts", force=True)
    queue = ctx.kind.queue

    def launch(rest: list[Any] | None) -> None:
        chord(etl_part.si(ctx.job_id, header, part).set(queue=queue) for part in parts)(
            etl_commit.s(ctx.job_id, rest).set(queue=queue)
        )

    return Deferred(launch, parts=len(parts))


def _check_split_source(ctx: JobContext, source: Source) -> None:
    name = source.path or ctx.file_record(source.file_id or "").name
    if source.format_of(name) != "csv":
        raise InvalidInput("parallel splits CSV files only")


def _job_params(settings: Settings, job_id: str) -> tuple[EtlParams, int]:
    with session_scope(settings) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return EtlParams.model_validate(job.params), job.attempts


def _part_folder(job_id: str) -> str:
    return f"{job_id}-parts"


@shared_task(
    name="dataops.etl_part",
    bind=True,
    ignore_result=False,  # the chord hands the parts' summaries to the commit
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=CATALOG["dataops.etl"].time_limit_s,
    soft_time_limit=CATALOG["dataops.etl"].soft_time_limit_s,
)
def etl_part(self: Any, job_id: str, header: list[str], part: dict[str, int]) -> dict[str, Any]:
    """One byte range of a split ETL; a failure is returned for the commit to record."""
    settings = get_settings()
    try:
        return _run_part(settings, job_id, header, part, self.request.hostname or "worker")
    except TRANSIENT as exc:
        raise self.retry(countdown=2, max_retries=5, exc=exc) from exc
    except Exception as exc:
        logger.info("job %s part %s failed: %s", job_id, part["index"], exc)
        return {"index": part["index"], "error": error_dict(exc)}


def _run_part(
    settings: Settings, job_id: str, header: list[str], part: dict[str, int], worker: str
) -> dict[str, Any]:
    params, attempt = _job_params(settings, job_id)
    kind = CATALOG["dataops.etl"]
    ctx = JobContext(job_id=job_id, kind=kind, attempt=attempt, worker=worker, settings=settings)
    steps = _steps(params)
    lookups, _ = _lookups(ctx, steps)
    source = params.resolved_source(ctx.now().date())
    store = BlobStore(settings.artifacts_url)
    folder = _part_folder(job_id)
    index = part["index"]
    with tempfile.TemporaryDirectory(prefix="triops-part-") as tmp:
        quarantine = Path(tmp) / "quarantine.csv"
        run = _Pass(ctx, steps, lookups, quarantine, first_row=part["first_row"], keep_row_ids=True)
        output = _DatasetWriter(Path(tmp) / "part.parquet")
        with _open_binary(ctx, source) as handle:
            handle.seek(part["start"])
            text = io.TextIOWrapper(
                io.BufferedReader(_Range(handle, part["end"] - part["start"])),
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
        "newest": {str(i): _newest(parts) for i, parts in checks.newest.items()},
        "parquet": parquet,
        "quarantine": rejects,
    }


def _newest(parts: list[pd.Series]) -> str | None:
    values = pd.concat(parts).dropna() if parts else pd.Series([], dtype=object)
    if not len(values) or not pd.api.types.is_datetime64_any_dtype(values.dtype):
        return None
    return pd.Timestamp(values.max()).isoformat()


class _Range(io.RawIOBase):
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


@shared_task(
    name="dataops.etl_commit",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=CATALOG["dataops.etl"].time_limit_s,
    soft_time_limit=CATALOG["dataops.etl"].soft_time_limit_s,
)
def etl_commit(
    self: Any, parts: list[dict[str, Any]], job_id: str, rest: list[Any] | None = None
) -> None:
    """All parts are in: check the whole, load in one transaction, record the result (and
    send the pipeline step after this job, `rest`, that was held back)."""
    settings = get_settings()
    with session_scope(settings) as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.RUNNING:
            return  # finished (a repeated commit) or cancelled
    try:
        result = _commit(settings, job_id, sorted(parts, key=lambda p: p["index"]))
    except TRANSIENT as exc:
        raise self.retry(countdown=2, max_retries=5, exc=exc) from exc
    except Exception as exc:
        if not isinstance(exc, TriopsError):
            logger.exception("job %s: commit failed", job_id)
        finish_deferred(self.app, settings, job_id, rest, exc=exc)
    else:
        finish_deferred(self.app, settings, job_id, rest, result=result)
    BlobStore(settings.artifacts_url).delete_folder(_part_folder(job_id))


def _commit(settings: Settings, job_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [p for p in parts if p.get("error")]
    if failed:
        error = failed[0]["error"]
        raise InvalidInput(
            f"part {failed[0]['index']} of {len(parts)} failed: {error['message']}",
            details={"part": failed[0]["index"], "error": error},
        )
    params, attempt = _job_params(settings, job_id)
    kind = CATALOG["dataops.etl"]
    ctx = JobContext(job_id=job_id, kind=kind, attempt=attempt, worker="commit", settings=settings)
    steps = _steps(params)
    lookups, inputs = _lookups(ctx, steps)
    run = _Pass(ctx, steps, lookups, quarantine_path=None)
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
    store = BlobStore(settings.artifacts_url)
    source = params.resolved_source(ctx.now().date())
    lineage = {"path": source.path} if source.path else _file_lineage(ctx, source)
    with tempfile.TemporaryDirectory(prefix="triops-commit-") as tmp:
        quarantine = Path(tmp) / "quarantine.csv"
        _merge_quarantine(store, [p["quarantine"] for p in parts], quarantine)
        result = _load(
            ctx,
            params,
            run,
            _part_frames(store, parts, checks, settings.etl_chunk_rows),
            [lineage, *inputs],
            Path(tmp),
        )
    result["parts"] = len(parts)
    return result


def _file_lineage(ctx: JobContext, source: Source) -> dict[str, Any]:
    record = ctx.file_record(source.file_id or "")
    return {"file_id": record.id, "name": record.name, "sha256": record.sha256}


def _part_frames(
    store: BlobStore, parts: list[dict[str, Any]], checks: ChunkChecks, size: int
) -> Iterator[pd.DataFrame]:
    """The parts' clean rows in file order, a chunk at a time; unique checks see them all."""
    for part in parts:
        with store.open(part["parquet"]) as handle:
            for frame, _ in parquet_chunks(handle, size):
                for index, hashes in checks.hashes.items():
                    checks.unique(index, hashes, frame)
                yield frame.drop(columns=[ROW_ID])


def _merge_quarantine(store: BlobStore, urls: list[str | None], target: Path) -> None:
    """One quarantine file from the parts' (the same columns in each), header once."""
    with open(target, "wb") as out:
        for url in filter(None, urls):
            with store.open(url) as handle:
                header = handle.readline()
                if out.tell() == 0:
                    out.write(header)
                for block in iter(lambda: handle.read(1 << 20), b""):
                    out.write(block)
