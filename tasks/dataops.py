"""`dataops.*` kinds: profile, validate, etl (and the parts and commit of a split ETL).

The bodies are thin: sources are read by `tasks/sources.py` and `tasks/readers.py`, a
spec runs over the chunks in `tasks/etl_pass.py`, loads happen in `tasks/etl_load.py`,
and a file split across workers is planned and merged in `tasks/etl_split.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import chord

from core import jobs
from core.config import get_settings
from core.db import session_scope
from core.kinds.dataops import ETL, EtlParams, ProfileParams, ValidateParams
from core.storage import artifact_store
from core.tables import JobStatus
from domain.dataops.profile import profile_frame
from tasks.base import (
    Deferred,
    JobContext,
    PartTask,
    error_dict,
    finish_deferred,
    job_task,
    part_task,
)
from tasks.etl_load import load_outputs
from tasks.etl_pass import EtlPass, check_columns, check_report
from tasks.etl_split import (
    check_split_source,
    commit_parts,
    part_folder,
    plan_parts,
    run_part,
)
from tasks.readers import read_table
from tasks.sources import open_binary, open_source, read_dataset, read_lookups


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


@job_task("dataops.validate")
def validate(ctx: JobContext, params: ValidateParams) -> dict[str, Any]:
    """Run the spec's checks (after its transforms) and return the failure report."""
    steps = params
    lookups, _inputs = read_lookups(ctx, steps)
    run = EtlPass(ctx, steps, lookups, quarantine_path=None)
    with open_source(ctx, params.source) as (chunks, _lineage):
        for _clean in run.chunks(chunks):
            pass
    report = run.checks.finish(run.columns or [])
    return {
        "rows": run.read,
        "unparsed_lines": run.by_rule.get("parse", 0),
        **check_report(report),
    }


@job_task("dataops.etl")
def etl(ctx: JobContext, params: EtlParams) -> dict[str, Any]:
    """Extract → transform → check → quarantine → load, a chunk at a time; every row
    accounted for, and nothing loaded unless the whole input passes."""
    if params.parallel > 1:
        return split(ctx, params)
    steps = params
    today = ctx.now().date()
    lookups, inputs = read_lookups(ctx, steps)
    with ctx.scratch("triops-etl-") as tmp:
        run = EtlPass(ctx, steps, lookups, quarantine_path=Path(tmp) / "quarantine.csv")
        source = params.resolved_source(today)
        with open_source(ctx, source, params.resolved_parameters(today)) as (chunks, lineage):
            return load_outputs(ctx, params, run, run.chunks(chunks), [lineage, *inputs], Path(tmp))


def split(ctx: JobContext, params: EtlParams) -> Deferred:
    """Cut the source into byte ranges, then hand the job to a chord of parts and a commit."""
    source = params.resolved_source(ctx.now().date())
    check_split_source(ctx, source)
    with open_binary(ctx, source) as handle:
        header, parts = plan_parts(handle, params.parallel)
    check_columns(params, header)
    ctx.progress(0.05, f"split into {len(parts)} parts", force=True)
    queue = ctx.kind.queue

    def launch(rest: list[Any] | None) -> None:
        chord(etl_part.si(ctx.job_id, header, part).set(queue=queue) for part in parts)(
            etl_commit.s(ctx.job_id, rest).set(queue=queue)
        )

    return Deferred(launch, parts=len(parts))


class EtlPart(PartTask):
    """A part that gives up hands its error to the commit, which fails the job."""

    job_kind = ETL

    def give_up(self, exc: BaseException, args: tuple[Any, ...]) -> dict[str, Any]:
        _job_id, _header, part = args
        return {"index": part["index"], "error": error_dict(exc)}


class EtlCommit(PartTask):
    """A commit that gives up fails the job (and skips the pipeline steps after it)."""

    job_kind = ETL

    def give_up(self, exc: BaseException, args: tuple[Any, ...]) -> None:
        _parts, job_id, rest = (*args, None)[:3]
        finish_deferred(self.app, get_settings(), job_id, rest, exc=exc)
        artifact_store(get_settings()).delete_folder(part_folder(job_id))


@part_task("dataops.etl_part", EtlPart, ignore_result=False)  # the chord needs the summaries
def etl_part(self: EtlPart, job_id: str, header: list[str], part: dict[str, int]) -> dict[str, Any]:
    """One byte range of a split ETL, summarised for the commit."""
    return run_part(get_settings(), job_id, header, part, self.request.hostname or "worker")


@part_task("dataops.etl_commit", EtlCommit)
def etl_commit(
    self: EtlCommit, parts: list[dict[str, Any]], job_id: str, rest: list[Any] | None = None
) -> None:
    """All parts are in: check the whole, load in one transaction, record the result (and
    send the pipeline step after this job, `rest`, that was held back)."""
    settings = get_settings()
    with session_scope(settings) as session:
        job = jobs.find_job(session=session, job_id=job_id)
        if job is None or job.status != JobStatus.RUNNING:
            return  # finished (a repeated commit) or cancelled
    result = commit_parts(settings, job_id, sorted(parts, key=lambda p: p["index"]))
    finish_deferred(self.app, settings, job_id, rest, result=result)
    artifact_store(settings).delete_folder(part_folder(job_id))
