"""The end of an ETL run: stage the clean rows into the warehouse table and the dataset
file, judge the whole run (dataset checks, reject ratio), then apply the load in one
transaction and record the dataset version."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core import dataset_versions, warehouse
from core.db import get_engine
from core.errors import InvalidInput
from core.kinds.dataops import EtlParams
from domain.dataops.load import Fingerprint
from domain.dataops.profile import profile_frame
from tasks.base import JobContext
from tasks.etl_pass import EtlPass, check_report


def load_outputs(
    ctx: JobContext,
    params: EtlParams,
    run: EtlPass,
    frames: Iterator[pd.DataFrame],
    lineage: list[dict[str, Any]],
    tmp: Path,
) -> dict[str, Any]:
    """Stage the clean frames into the target table and the dataset file, judge the whole
    run, then apply the load (one transaction) and record the dataset version."""
    target = params.target
    output = DatasetWriter(tmp / "output.parquet") if target.dataset else None
    with load_transaction(ctx, params, target.table) as loading:
        for clean in frames:
            if loading is not None:
                loading.stage(clean)
            if output is not None:
                output.write(clean)
        result = judge(ctx, params, run, tmp / "quarantine.csv")
        if loading is not None:
            ctx.progress(0.8, f"applying {run.rows['loaded']} rows to {target.table}")
            result["target_changes"] = loading.finish()
            result["table"] = loading.name
    # The load is committed; the dataset version is recorded after it.
    if output is not None and target.dataset:
        result["dataset"] = save_dataset(ctx, target.dataset, output, lineage)
    return result


@contextmanager
def load_transaction(
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


def judge(ctx: JobContext, params: EtlParams, run: EtlPass, quarantine: Path) -> dict[str, Any]:
    """The result so far; raises (so nothing is loaded) when a dataset-level error check
    failed or the quarantine is over `max_reject_ratio`."""
    report = run.checks.finish(run.columns or [])
    rows = run.totals()
    artifacts = []
    if rows["quarantined"]:
        artifacts.append(ctx.save_artifact("quarantine.csv", quarantine, "text/csv").public())
    result: dict[str, Any] = {
        "rows": rows,
        "checks": check_report(report),
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


class DatasetWriter:
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


def save_dataset(
    ctx: JobContext, name: str, output: DatasetWriter, inputs: list[dict[str, Any]]
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
