"""`dataops.*` kinds: profile, validate, etl."""

from __future__ import annotations

import csv
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import datasets, warehouse
from core.config import normalise_database_url
from core.db import get_engine, make_engine
from core.errors import InvalidInput
from core.params.dataops import EtlParams, ProfileParams, Source, ValidateParams
from core.storage import BlobStore
from domain.dataops.checks import CheckReport
from domain.dataops.load import Fingerprint
from domain.dataops.profile import profile_frame
from domain.dataops.spec import ROW_ID, EtlSteps, dataset_refs, validate_against_columns
from domain.dataops.stream import ChunkChecks, whole_input_reason
from domain.dataops.transform import KeyHashes, TransformError, apply_transforms
from tasks.base import JobContext, job_task

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
        try:
            frame = pd.read_csv(
                path, nrows=params.sample_rows, encoding_errors="replace", on_bad_lines="error"
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
            raise InvalidInput(f"file {record.name!r} is not a readable CSV: {exc}") from exc
    result = profile_frame(frame)
    result["file"] = {"id": record.id, "name": record.name, "sha256": record.sha256}
    return result


# --- reading sources ------------------------------------------------------------------
#
# A source is read as chunks of at most `TRIOPS_ETL_CHUNK_ROWS` rows: (rows as read, the
# lines that could not be parsed). There is always at least one chunk, so the columns are
# known even for an empty input.

Chunk = tuple[pd.DataFrame, list[dict[str, Any]]]


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
        name, version = source.dataset.split("@", 1)
        with ctx.session() as session:
            row = datasets.get_version(session=session, name=name, version=int(version))
        with BlobStore(ctx.settings.artifacts_url).open(row.url) as handle:
            yield _parquet_chunks(handle, size), {"dataset": source.dataset, "sha256": row.sha256}
    elif source.file_id is not None:
        record = ctx.file_record(source.file_id)
        with ctx.local_file(source.file_id) as path:
            lineage = {"file_id": record.id, "name": record.name, "sha256": record.sha256}
            yield _read(path, source, record.name, size), lineage
    else:
        assert source.path is not None
        path = _data_file(ctx, source.path)
        yield _read(path, source, path.name, size), {"path": source.path}


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


def _parquet_chunks(handle: Any, size: int) -> Iterator[Chunk]:
    parquet = pq.ParquetFile(handle)
    yielded = False
    for batch in parquet.iter_batches(batch_size=size):
        yield batch.to_pandas(), []
        yielded = True
    if not yielded:
        yield parquet.schema_arrow.empty_table().to_pandas(), []


def _read(path: Path, source: Source, name: str, size: int) -> Iterator[Chunk]:
    kind = source.format or next(
        (f for f in ("parquet", "jsonl") if name.endswith(f".{f}") or name.endswith(".json")),
        "csv",
    )
    try:
        if kind == "parquet":
            yield from _parquet_chunks(path, size)
        elif kind == "jsonl":
            yielded = False
            with pd.read_json(path, lines=True, dtype=False, chunksize=size) as reader:
                for frame in reader:
                    yield frame, []
                    yielded = True
            if not yielded:
                yield pd.DataFrame(), []
        else:
            yield from _read_csv(path, source.delimiter, size)
    except (ValueError, OSError, pd.errors.EmptyDataError, pa.ArrowException) as exc:
        raise InvalidInput(f"source {name!r} is not readable as {kind}: {exc}") from exc


def _read_csv(path: Path, delimiter: str, size: int) -> Iterator[Chunk]:
    """Every field as text (casts are the spec's business); broken lines are kept aside
    with their line numbers, not dropped."""
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration as exc:
            raise InvalidInput("the source is empty") from exc
        rows: list[list[str]] = []
        broken: list[dict[str, Any]] = []
        yielded = False
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                broken.append(
                    {
                        "_line_number": reader.line_num,
                        "_raw": delimiter.join(row),
                        "_rule": "parse",
                        "_reason": f"expected {len(header)} fields, found {len(row)}",
                    }
                )
                continue
            rows.append(row)
            if len(rows) == size:
                yield _text_frame(rows, header), broken
                rows, broken, yielded = [], [], True
        if rows or broken or not yielded:
            yield _text_frame(rows, header), broken


def _text_frame(rows: list[list[str]], header: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.where(frame != "", None)


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
    ) -> None:
        self.ctx = ctx
        self.steps = steps
        self.lookups = lookups
        self.whole = whole_input_reason(list(steps.transforms))
        self.checks = ChunkChecks(
            list(steps.checks), now=ctx.now(), max_cases=MAX_CASES, lookups=lookups
        )
        self.seen: dict[str, KeyHashes] | None = None if self.whole else {}
        self.read = 0
        self.parsed = 0  # rows that parsed: the next chunk's first `_row` id
        self.rows = {"loaded": 0, "quarantined": 0, "filtered": 0, "deduplicated": 0}
        self.aggregated = 0
        self.by_rule: dict[str, int] = {}
        self.columns: list[str] | None = None
        self.quarantine_path = quarantine_path
        self.quarantine_columns: list[str] | None = None

    def chunks(self, source: Iterator[Chunk]) -> Iterator[pd.DataFrame]:
        """The clean rows of each chunk (no `_row` column), in order."""
        for frame, broken in _whole(source) if self.whole else source:
            if self.columns is None:
                _check_columns(self.steps, frame)
            offset = self.parsed
            self.parsed += len(frame)
            self.read += len(frame) + len(broken)
            try:
                transformed = apply_transforms(
                    frame,
                    list(self.steps.transforms),
                    self.lookups,
                    row_offset=offset,
                    seen=self.seen,
                )
            except TransformError as exc:
                raise InvalidInput(str(exc)) from exc
            checked = transformed.frame
            if self.columns is None:
                self.columns = [str(c) for c in checked.columns if c != ROW_ID]
            reasons = self.checks.run(checked)
            failing = checked[ROW_ID].isin(list(reasons)).to_numpy()
            counts = transformed.counts
            for kind in ("filtered", "deduplicated"):
                self.rows[kind] += int(counts[kind])
            self.aggregated += int(counts.get("aggregated", 0))
            for rule, count in counts.get("by_rule", {}).items():
                self._add_rule(rule, int(count))
            for row_reasons in reasons.values():
                for reason in {r.split(":", 1)[0] for r in row_reasons}:
                    self._add_rule(f"check:{reason}", 1)
            if broken:
                self._add_rule("parse", len(broken))
            self._write_quarantine(
                frame, offset, transformed.quarantined, checked[failing], reasons, broken
            )
            clean = checked[~failing].drop(columns=[ROW_ID]).reset_index(drop=True)
            self.rows["loaded"] += len(clean)
            self.ctx.progress(0.5, f"{self.read} rows read")
            yield clean

    def _add_rule(self, rule: str, count: int) -> None:
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
            original = failing if self.aggregated else source.iloc[rows - offset].copy()
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
        if self.quarantine_columns is None:
            data = [str(c) for c in table.columns if c not in QUARANTINE_META]
            self.quarantine_columns = [*QUARANTINE_META[:4], *data, "_raw"]
            header = True
        else:
            header = False
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
    steps = _steps(params)
    today = ctx.now().date()
    lookups, inputs = _lookups(ctx, steps)
    target = params.target
    with tempfile.TemporaryDirectory(prefix="triops-etl-") as tmp:
        run = _Pass(ctx, steps, lookups, quarantine_path=Path(tmp) / "quarantine.csv")
        output = _DatasetWriter(Path(tmp) / "output.parquet") if target.dataset else None
        source = params.resolved_source(today)
        with (
            open_source(ctx, source, params.resolved_parameters(today)) as (chunks, lineage),
            _load_transaction(ctx, params, target.table) as loading,
        ):
            for clean in run.chunks(chunks):
                if loading is not None:
                    loading.stage(clean)
                if output is not None:
                    output.write(clean)
            result = _verdict(ctx, params, run, Path(tmp) / "quarantine.csv")
            if loading is not None:
                ctx.progress(0.8, f"applying {run.rows['loaded']} rows to {target.table}")
                result["target_changes"] = loading.finish()
                result["table"] = loading.name
        # The load is committed; the dataset version is recorded after it.
        if output is not None and target.dataset:
            result["dataset"] = _save_dataset(ctx, target.dataset, output, [lineage, *inputs])
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
        artifacts.append(ctx.save_artifact("quarantine.csv", quarantine, "text/csv"))
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
        version, created = datasets.add_version(
            session=session,
            name=name,
            now=ctx.now(),
            values={
                "fingerprint": output.fingerprint.hexdigest(),
                "rows": output.rows,
                "columns": [{"name": c["name"], "dtype": c["dtype"]} for c in stats["profile"]],
                "stats": stats,
                "url": artifact["url"],
                "sha256": artifact["sha256"],
                "size": artifact["size"],
                "job_id": ctx.job_id,
                "inputs": inputs,
            },
        )
        return {"name": name, "version": version.version, "new": created, "rows": version.rows}
