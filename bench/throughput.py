"""Throughput against bare Celery: N `system.echo` jobs through the HTTP API's batch
endpoint until every job row is final, against N `apply_async` of a trivial task on a
plain Celery worker, same Redis, same number of prefork processes, same run.

Run: ``.venv/bin/python -m bench throughput [--jobs 50000] [--quick]``. Writes
``var/bench/throughput.json``. Runs alternate ABAB (triops, bare, triops, bare, ...) so
a slow moment of a shared machine hits both sides; the figure is the median of the
per-pair ratios triops jobs/s ÷ bare jobs/s.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx
from celery.result import ResultSet
from sqlalchemy import func, select

from bench.bare_celery import make_app
from bench.data import REPO_ROOT
from bench.stack import BARE_QUEUE, Services, Triops, bare_celery, services, triops
from core.db import dispose_engines, get_engine
from core.tables import Job, JobStatus

OUT = REPO_ROOT / "var" / "bench" / "throughput.json"
BATCH = 500
FINAL = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]


def run_triops(svc: Services, stack: Triops, jobs: int, *, timeout_s: float) -> dict[str, Any]:
    """Submit `jobs` echo jobs in batches of `BATCH` and wait until every row is final."""
    params = [{"payload": i} for i in range(jobs)]
    return run_batches(svc, stack, "system.echo", params, timeout_s=timeout_s)


def run_batches(
    svc: Services, stack: Triops, kind: str, params: list[dict[str, Any]], *, timeout_s: float
) -> dict[str, Any]:
    """Submit one `kind` job per params in batches of `BATCH` through the API and wait
    until every row is final."""
    ids: list[str] = []
    engine = get_engine(svc.settings)
    started = time.perf_counter()
    with httpx.Client(base_url=stack.api_url, headers=stack.headers(), timeout=120) as client:
        for first in range(0, len(params), BATCH):
            chunk = params[first : first + BATCH]
            body = {"jobs": [{"kind": kind, "params": p} for p in chunk]}
            response = client.post("/api/v1/jobs:batch", json=body)
            response.raise_for_status()
            ids.extend(job["id"] for job in response.json()["jobs"])
    submitted = time.perf_counter()
    since = _created_since(engine, ids[0])
    final, deadline = 0, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        final = _count(engine, since, FINAL, kind=kind)
        if final >= len(params):
            break
        time.sleep(0.25)  # a count of the jobs table costs the database; 4 a second is plenty
    finished = time.perf_counter()
    succeeded = _count(engine, since, [JobStatus.SUCCEEDED], kind=kind)
    return {
        "jobs": len(params),
        "submitted": len(ids),
        "final": int(final),
        "succeeded": succeeded,
        "submit_s": round(submitted - started, 3),
        "seconds": round(finished - started, 3),
        # Jobs finished per second: a run cut off by the timeout counts what it finished.
        "jobs_per_s": round(final / (finished - started), 2),
    }


def _created_since(engine: Any, job_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(Job.created_at).where(Job.id == job_id)).scalar_one()


def _count(engine: Any, since: Any, statuses: list[JobStatus], kind: str = "system.echo") -> int:
    """Jobs of `kind` created since `since` whose status is one of `statuses`."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(Job)
                .where(Job.created_at >= since, Job.kind == kind)
                .where(Job.status.in_(statuses))
            ).scalar_one()
        )


def run_bare(svc: Services, jobs: int, *, timeout_s: float) -> dict[str, Any]:
    """`apply_async` of the trivial task `jobs` times, then wait for every result."""
    app = make_app(svc.broker_url, svc.result_url)
    task = app.tasks["bench.noop"]
    started = time.perf_counter()
    results = [task.apply_async(queue=BARE_QUEUE) for _ in range(jobs)]
    submitted = time.perf_counter()
    outcome = ResultSet(results, app=app)
    values = outcome.join_native(timeout=timeout_s, propagate=False)
    finished = time.perf_counter()
    done = sum(1 for value in values if isinstance(value, float))
    outcome.forget()
    return {
        "jobs": jobs,
        "submitted": len(results),
        "final": len(values),
        "succeeded": done,
        "submit_s": round(submitted - started, 3),
        "seconds": round(finished - started, 3),
        "jobs_per_s": round(done / (finished - started), 1),
    }


def run(*, jobs: int = 5_000, pairs: int = 2, workers: int | None = None) -> dict[str, Any]:
    """`pairs` ABAB pairs of `jobs` jobs each (after one small warm-up of each side)."""
    # Generous: a run cut off early would leave its jobs to slow down the next one.
    timeout_s = max(300.0, jobs / 2)
    runs: list[dict[str, Any]] = []
    with services(workers) as svc, triops(svc) as stack, bare_celery(svc):
        run_triops(svc, stack, min(jobs, 100), timeout_s=timeout_s)
        run_bare(svc, min(jobs, 100), timeout_s=timeout_s)
        for pair in range(pairs):
            ours = run_triops(svc, stack, jobs, timeout_s=timeout_s)
            bare = run_bare(svc, jobs, timeout_s=timeout_s)
            runs.append({"pair": pair, "side": "triops", **ours})
            runs.append({"pair": pair, "side": "celery", **bare})
            print(
                f"pair {pair}: triops {ours['jobs_per_s']} jobs/s, "
                f"celery {bare['jobs_per_s']} jobs/s",
                flush=True,
            )
        database = svc.settings.database_url.split(":", 1)[0].split("+", 1)[0]
        workers = svc.workers
    dispose_engines()
    ratios = [
        ours["jobs_per_s"] / bare["jobs_per_s"]
        for ours, bare in zip(runs[0::2], runs[1::2], strict=True)
    ]
    triops_rates = [r["jobs_per_s"] for r in runs if r["side"] == "triops"]
    celery_rates = [r["jobs_per_s"] for r in runs if r["side"] == "celery"]
    return {
        "jobs": jobs,
        "batch": BATCH,
        "pairs": pairs,
        "workers": workers,
        "database": database,
        "runs": runs,
        "triops_jobs_per_s": round(statistics.median(triops_rates), 1),
        "celery_jobs_per_s": round(statistics.median(celery_rates), 1),
        "ratios": [round(r, 3) for r in ratios],
        "ratio": round(statistics.median(ratios), 3),
        # Jobs not final when their run's wait ended (0 unless a run hit the timeout).
        "unfinished": sum(r["jobs"] - r["final"] for r in runs),
    }


def main(*, jobs: int = 5_000, pairs: int = 2) -> dict[str, Any]:
    result = run(jobs=jobs, pairs=pairs)
    print("| pair | side | jobs | final | submit s | total s | jobs/s |")
    print("|---|---|---|---|---|---|---|")
    for r in result["runs"]:
        print(
            f"| {r['pair']} | {r['side']} | {r['jobs']:,} | {r['final']:,} | {r['submit_s']} "
            f"| {r['seconds']} | {r['jobs_per_s']:,} |"
        )
    print(f"\nthroughput ratio triops/celery (median of pairs): {result['ratio']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
