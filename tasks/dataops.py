"""`dataops.*` kinds: profile, validate, etl."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core import datasets
from core.config import normalise_database_url
from core.db import get_engine, make_engine
from core.errors import InvalidInput
from core.params.dataops import EtlParams, ProfileParams, Source, ValidateParams
from domain.dataops.checks import CheckReport, run_checks
from domain.dataops.load import content_fingerprint
from domain.dataops.profile import profile_frame
from domain.dataops.spec import ROW_ID, EtlSteps, dataset_refs, validate_against_columns
from domain.dataops.transform import TransformError, apply_transforms
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


def _data_file(ctx: JobContext, relative: str) -> Path:
    """A file under the data directory; nothing outside it, even through links."""
    root = ctx.settings.data_root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput("path must stay inside the data directory")
    if not path.is_file():
        raise InvalidInput(f"no file {relative!r} in the data directory")
    return path


def read_source(
    ctx: JobContext, source: Source, parameters: dict[str, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The source as strings-as-read, the lines that could not be parsed, and lineage."""
    if source.connection is not None:
        lineage = {
            "connection": source.connection,
            "query_sha256": hashlib.sha256((source.query or "").encode()).hexdigest(),
            "parameters": parameters or {},
        }
        return _read_sql(ctx, source, parameters or {}), pd.DataFrame(), lineage
    if source.dataset is not None:
        frame, lineage = read_dataset(ctx, source.dataset)
        return frame, pd.DataFrame(), lineage
    if source.file_id is not None:
        record = ctx.file_record(source.file_id)
        with ctx.local_file(source.file_id) as path:
            frame, broken = _read(path, source, record.name)
        return frame, broken, {"file_id": record.id, "name": record.name, "sha256": record.sha256}
    assert source.path is not None
    path = _data_file(ctx, source.path)
    frame, broken = _read(path, source, path.name)
    return frame, broken, {"path": source.path}


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


def _read_sql(ctx: JobContext, source: Source, parameters: dict[str, str]) -> pd.DataFrame:
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
            return pd.read_sql(text(source.query or ""), conn, params=parameters)
    except (SQLAlchemyError, ValueError) as exc:
        raise InvalidInput(f"query on {source.connection!r} failed: {exc}") from exc
    finally:
        engine.dispose()


def _read(path: Path, source: Source, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    kind = source.format or next(
        (f for f in ("parquet", "jsonl") if name.endswith(f".{f}") or name.endswith(".json")),
        "csv",
    )
    try:
        if kind == "parquet":
            return pd.read_parquet(path), pd.DataFrame()
        if kind == "jsonl":
            return pd.read_json(path, lines=True, dtype=False), pd.DataFrame()
        return _read_csv(path, source.delimiter)
    except (ValueError, OSError, pd.errors.EmptyDataError) as exc:
        raise InvalidInput(f"source {name!r} is not readable as {kind}: {exc}") from exc


def _read_csv(path: Path, delimiter: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every field as text (casts are the spec's business); broken lines are kept aside
    with their line numbers, not dropped."""
    broken: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration as exc:
            raise InvalidInput("the source is empty") from exc
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                broken.append(
                    {
                        "_line": reader.line_num,
                        "_raw": delimiter.join(row),
                        "_rule": "parse",
                        "_reason": f"expected {len(header)} fields, found {len(row)}",
                    }
                )
                continue
            rows.append(row)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame = frame.where(frame != "", None)
    return frame, pd.DataFrame(broken)


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


@job_task("dataops.validate")
def validate(ctx: JobContext, params: ValidateParams) -> dict[str, Any]:
    """Run the spec's checks (after its transforms) and return the failure report."""
    steps = _steps(params)
    frame, broken, _ = read_source(ctx, params.source)
    _check_columns(steps, frame)
    lookups, _inputs = _lookups(ctx, steps)
    try:
        transformed = apply_transforms(frame, list(steps.transforms), lookups)
    except TransformError as exc:
        raise InvalidInput(str(exc)) from exc
    report = run_checks(
        transformed.frame, list(steps.checks), now=ctx.now(), max_cases=MAX_CASES, lookups=lookups
    )
    return {
        "rows": len(frame) + len(broken),
        "unparsed_lines": len(broken),
        **_report(report),
    }


@job_task("dataops.etl")
def etl(ctx: JobContext, params: EtlParams) -> dict[str, Any]:
    """Extract → transform → check → quarantine → load; every row accounted for."""
    steps = _steps(params)
    today = ctx.now().date()
    frame, broken, lineage = read_source(
        ctx, params.resolved_source(today), params.resolved_parameters(today)
    )
    ctx.progress(0.2, f"read {len(frame)} rows", force=True)
    _check_columns(steps, frame)
    lookups, inputs = _lookups(ctx, steps)
    try:
        transformed = apply_transforms(frame, list(steps.transforms), lookups)
    except TransformError as exc:
        raise InvalidInput(str(exc)) from exc
    report = run_checks(
        transformed.frame, list(steps.checks), now=ctx.now(), max_cases=MAX_CASES, lookups=lookups
    )
    ctx.progress(0.5, "checked", force=True)
    clean, rejected = _quarantine(transformed.frame, transformed.quarantined, report)
    counts = transformed.counts
    by_rule = dict(counts.get("by_rule", {}))
    for failure in report.failures:
        if failure["severity"] == "error" and failure["row"] is not None:
            key = f"check:{failure['check']}"
            by_rule[key] = by_rule.get(key, 0) + 1
    if len(broken):
        by_rule["parse"] = len(broken)
    quarantined = len(rejected) + len(broken)
    read = int(counts["input"]) + len(broken)
    filtered, deduplicated = int(counts["filtered"]), int(counts["deduplicated"])
    aggregated = int(counts.get("aggregated", 0))
    if read != len(clean) + quarantined + filtered + deduplicated + aggregated:
        raise RuntimeError("row accounting does not add up; nothing was loaded")
    rows = {
        "read": read,
        "loaded": len(clean),
        "quarantined": quarantined,
        "filtered": filtered,
        "deduplicated": deduplicated,
        "by_rule": by_rule,
    }
    if aggregated:
        rows["aggregated"] = aggregated
    artifacts = []
    if quarantined:
        artifacts.append(_save_quarantine(ctx, rejected, broken))
    failed_dataset_checks = [
        r
        for r in report.results
        if not r["passed"] and r["severity"] == "error" and r["level"] == "dataset"
    ]
    result: dict[str, Any] = {"rows": rows, "checks": _report(report), "artifacts": artifacts}
    if failed_dataset_checks:
        raise InvalidInput(
            "dataset checks failed; nothing was loaded: "
            + "; ".join(r["message"] for r in failed_dataset_checks),
            details=result,
        )
    ratio = quarantined / read if read else 0.0
    if ratio > params.max_reject_ratio:
        raise InvalidInput(
            f"{quarantined} of {read} rows ({ratio:.1%}) went to quarantine, over "
            f"max_reject_ratio {params.max_reject_ratio:.1%}; nothing was loaded",
            details=result,
        )
    output = clean.drop(columns=[ROW_ID], errors="ignore").reset_index(drop=True)
    target = params.target
    result["target_changes"] = {"inserted": 0, "updated": 0, "deleted": 0}
    if target.table:
        from core import warehouse

        ctx.progress(0.7, f"loading {len(output)} rows into {target.table}", force=True)
        with get_engine(ctx.settings).begin() as conn:
            result["target_changes"] = warehouse.load(
                conn,
                table=target.table,
                frame=output,
                mode=target.mode,
                keys=target.keys,
                job_id=ctx.job_id,
                now=ctx.now(),
            )
        result["table"] = warehouse.table_name(target.table)
    if target.dataset:
        result["dataset"] = _save_dataset(ctx, target.dataset, output, [lineage, *inputs])
    return result


def _quarantine(
    frame: pd.DataFrame, quarantined: pd.DataFrame, report: CheckReport
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows failing an error-severity check join the transforms' quarantine, with reasons."""
    bad = set(report.error_rows)
    if not bad:
        return frame, quarantined
    reasons: dict[int, list[str]] = {}
    for failure in report.failures:
        if failure["severity"] == "error" and failure["row"] in bad:
            reasons.setdefault(int(failure["row"]), []).append(
                f"{failure['check']}: {failure['message']}"
            )
    failing = frame[frame[ROW_ID].isin(bad)].copy()
    failing["_rule"] = "check"
    failing["_reason"] = [
        "; ".join(reasons.get(int(r), ["failed an error-severity check"])) for r in failing[ROW_ID]
    ]
    return frame[~frame[ROW_ID].isin(bad)], pd.concat([quarantined, failing], ignore_index=True)


def _save_quarantine(
    ctx: JobContext, rejected: pd.DataFrame, broken: pd.DataFrame
) -> dict[str, Any]:
    parts = [rejected]
    if len(broken):
        parts.append(broken.rename(columns={"_line": "_line_number"}))
    table = pd.concat(parts, ignore_index=True)
    for column in (ROW_ID, "_line_number"):
        if column in table:
            table[column] = table[column].astype("Int64")
    return ctx.save_artifact("quarantine.csv", table.to_csv(index=False).encode(), "text/csv")


def _save_dataset(
    ctx: JobContext, name: str, output: pd.DataFrame, inputs: list[dict[str, Any]]
) -> dict[str, Any]:
    buffer = io.BytesIO()
    output.to_parquet(buffer, index=False)
    artifact = ctx.save_artifact(
        f"{name}.parquet", buffer.getvalue(), "application/vnd.apache.parquet"
    )
    stats = profile_frame(output)
    with ctx.session() as session:
        version, created = datasets.add_version(
            session=session,
            name=name,
            now=ctx.now(),
            values={
                "fingerprint": content_fingerprint(output),
                "rows": len(output),
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
