"""Submit latency and queue latency, each against bare Celery at the same load.

Run: ``.venv/bin/python -m bench latency [--quick]``. Writes ``var/bench/latency.json``.

*Submit latency.* An open-loop load generator on loopback (httpx, asyncio) sends requests
at a fixed rate whatever the answers do; a request's latency runs from the moment it was
due to be sent to its answer, so a server that falls behind shows it (no coordinated
omission). Single `POST /api/v1/jobs` and `POST /api/v1/jobs:batch` of `BATCH` jobs, each
at a fixed rate for p50/p99, and stepped up (`SINGLE_RATES`, `BATCH_RATES`) to the highest
rate held with p99 < 50 ms. The baseline of p50/p99 is bare Celery's `apply_async` (a
single message, or `BATCH` messages) at the same rate from the same kind of open loop:
what a job costs to hand over when nothing records it. The baseline of the highest rate
is `GET /api/v1/health` through the same API (one database and one Redis round trip):
the ceiling of the HTTP stack on this machine.

*Queue latency.* Jobs submitted one at a time at a low rate (`QUEUE_RATE` per second);
from each job row, created → started and created → finished, against bare Celery's
send → task start → result stored at the same rate.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.bare_celery import make_app
from bench.data import REPO_ROOT
from bench.stack import BARE_QUEUE, Services, Triops, bare_celery, services, triops
from core.db import dispose_engines, get_engine
from core.tables import Job, JobStatus, utcnow

OUT = REPO_ROOT / "var" / "bench" / "latency.json"
BATCH = 100
P99_LIMIT_MS = 50.0
FIXED_SINGLE_RATE = 50  # requests per second for the single-submit p50/p99
FIXED_BATCH_RATE = 5  # batch requests per second (500 jobs/s) for the batch p50/p99
SINGLE_RATES = (5, 10, 25, 50, 100, 150, 200, 300, 400, 600, 800)
BATCH_RATES = (1, 2, 5, 10, 15, 20, 30, 40, 60)
QUEUE_RATE = 5  # jobs per second: low load


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50 and p99 (nearest rank) of latencies in milliseconds."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {"n": len(ordered), "p50_ms": round(rank(0.50), 2), "p99_ms": round(rank(0.99), 2)}


async def _open_loop(
    url: str, headers: dict[str, str], method: str, body: Any, rate: float, seconds: float
) -> dict[str, Any]:
    """`rate` requests per second for `seconds`, each timed from when it was due."""
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits) as client:

        async def one(due: float) -> None:
            nonlocal errors
            try:
                response = await client.request(method, url, json=body)
                ok = response.status_code < 400
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - due) * 1000)
            else:
                errors += 1

        loop_started = time.perf_counter() + 0.05
        tasks = []
        for i in range(count):
            due = loop_started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
    return {"rate": rate, "requests": count, "errors": errors, **percentiles(latencies)}


def open_loop(
    url: str, headers: dict[str, str], method: str, body: Any, rate: float, seconds: float
) -> dict[str, Any]:
    return asyncio.run(_open_loop(url, headers, method, body, rate, seconds))


def open_loop_calls(call: Callable[[], object], rate: float, seconds: float) -> dict[str, Any]:
    """The same open loop around a blocking call (bare Celery's `apply_async`)."""
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    started = time.perf_counter() + 0.05
    for i in range(count):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        call()
        latencies.append((time.perf_counter() - due) * 1000)
    return {"rate": rate, "requests": count, "errors": 0, **percentiles(latencies)}


def highest_rate(measure: Callable[[float], dict[str, Any]], rates: tuple[int, ...]) -> dict:
    """Step the rate up; the highest one held with p99 under the limit and no errors."""
    steps, held = [], 0.0
    for rate in rates:
        step = measure(rate)
        steps.append(step)
        if step["errors"] or not step["p99_ms"] < P99_LIMIT_MS:
            break
        held = rate
    return {"held_rate": held, "steps": steps}


def submit_latency(
    svc: Services, stack: Triops, seconds: float, steps: int | None = None
) -> dict[str, Any]:
    headers = stack.headers()
    single_url = f"{stack.api_url}/api/v1/jobs"
    batch_url = f"{stack.api_url}/api/v1/jobs:batch"
    health_url = f"{stack.api_url}/api/v1/health"
    single = {"kind": "system.echo", "params": {"payload": 1}}
    batch = {"jobs": [single] * BATCH}
    app = make_app(svc.broker_url, svc.result_url)
    task = app.tasks["bench.noop"]

    def bare_single() -> None:
        task.apply_async(queue=BARE_QUEUE, ignore_result=True)

    def bare_batch() -> None:
        for _ in range(BATCH):
            task.apply_async(queue=BARE_QUEUE, ignore_result=True)

    return {
        "batch_size": BATCH,
        "seconds_per_step": seconds,
        "single": open_loop(single_url, headers, "POST", single, FIXED_SINGLE_RATE, seconds),
        "single_celery": open_loop_calls(bare_single, FIXED_SINGLE_RATE, seconds),
        "batch": open_loop(batch_url, headers, "POST", batch, FIXED_BATCH_RATE, seconds),
        "batch_celery": open_loop_calls(bare_batch, FIXED_BATCH_RATE, seconds),
        "single_max": highest_rate(
            lambda r: open_loop(single_url, headers, "POST", single, r, seconds), SINGLE_RATES
        ),
        "batch_max": highest_rate(
            lambda r: open_loop(batch_url, headers, "POST", batch, r, seconds), BATCH_RATES
        ),
        "health_max": highest_rate(
            lambda r: open_loop(health_url, headers, "GET", None, r, seconds), SINGLE_RATES
        ),
    }


def queue_latency(svc: Services, stack: Triops, jobs: int) -> dict[str, Any]:
    """created → started / finished of `jobs` single submits at `QUEUE_RATE` per second,
    against bare Celery's send → start / result stored at the same rate."""
    ids: list[str] = []
    with httpx.Client(base_url=stack.api_url, headers=stack.headers(), timeout=30) as client:
        _warm_up(svc, client)
        started = time.perf_counter()
        for i in range(jobs):
            delay = started + i / QUEUE_RATE - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            body = {"kind": "system.echo", "params": {"payload": i}}
            response = client.post("/api/v1/jobs", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
    engine = get_engine(svc.settings)
    rows: list[Any] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(Job.status, Job.created_at, Job.started_at, Job.finished_at).where(
                        Job.id.in_(ids)
                    )
                )
            )
        if sum(1 for r in rows if r.finished_at is not None) == jobs:
            break
        time.sleep(0.2)
    done = [r for r in rows if r.status == JobStatus.SUCCEEDED]
    ours = {
        "jobs": jobs,
        "succeeded": len(done),
        "to_start": percentiles([_ms(r.started_at - r.created_at) for r in done]),
        "to_finish": percentiles([_ms(r.finished_at - r.created_at) for r in done]),
    }

    app = make_app(svc.broker_url, svc.result_url)
    task = app.tasks["bench.noop"]
    sent: list[tuple[float, Any]] = []
    started = time.perf_counter()
    for i in range(jobs):
        delay = started + i / QUEUE_RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent.append((time.time(), task.apply_async(queue=BARE_QUEUE)))
    to_start, to_finish = [], []
    for at, result in sent:
        began = result.get(timeout=60)
        to_start.append((began - at) * 1000)
        to_finish.append((_epoch(result.date_done) - at) * 1000)
        result.forget()
    bare = {
        "jobs": jobs,
        "succeeded": len(to_start),
        "to_start": percentiles(to_start),
        "to_finish": percentiles(to_finish),
    }
    return {"rate_per_s": QUEUE_RATE, "triops": ours, "celery": bare}


def _warm_up(svc: Services, client: httpx.Client) -> None:
    """A few jobs through each side first: a pool process's first job pays for imports
    and connections, which is not queue latency."""
    since = utcnow()
    for i in range(2 * svc.workers):
        client.post("/api/v1/jobs", json={"kind": "system.echo", "params": {"payload": i}})
    drain(svc, since, timeout_s=60)
    task = make_app(svc.broker_url, svc.result_url).tasks["bench.noop"]
    for result in [task.apply_async(queue=BARE_QUEUE) for _ in range(2 * svc.workers)]:
        result.get(timeout=60)
        result.forget()


def drain(svc: Services, since: datetime, *, timeout_s: float) -> int:
    """Wait until the jobs the submit steps created are final; how many were not."""
    engine = get_engine(svc.settings)
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count())
                .select_from(Job)
                .where(Job.created_at >= since, Job.finished_at.is_(None))
            ).scalar_one()
        if not left or time.monotonic() > deadline:
            return int(left)
        time.sleep(0.5)


def _ms(delta: Any) -> float:
    return float(delta.total_seconds() * 1000)


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return datetime.fromisoformat(str(value)).timestamp()


def run(
    *,
    quick: bool = False,
    workers: int | None = None,
    seconds: float | None = None,
    queue_jobs: int | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Queue latency, then submit latency; `quick`: 1 s per step, 10 queued jobs, the
    first 5 rates of each ladder (the others default to 4 s, 100 jobs, whole ladders)."""
    seconds = seconds or (1.0 if quick else 4.0)
    queue_jobs = queue_jobs or (10 if quick else 100)
    steps = steps or (5 if quick else None)
    with services(workers) as svc, triops(svc) as stack, bare_celery(svc):
        # Queue latency first, on empty queues; the submit steps leave work behind.
        queue = queue_latency(svc, stack, queue_jobs)
        since = utcnow()
        submit = submit_latency(svc, stack, seconds, steps)
        submit["left_unfinished"] = drain(svc, since, timeout_s=300)
        database = svc.settings.database_url.split(":", 1)[0].split("+", 1)[0]
    dispose_engines()
    return {"database": database, "p99_limit_ms": P99_LIMIT_MS, "submit": submit, "queue": queue}


def main(*, quick: bool = False) -> dict[str, Any]:
    result = run(quick=quick)
    submit, queue = result["submit"], result["queue"]
    print("| path | rate /s | p50 ms | p99 ms | bare celery p50 | bare celery p99 |")
    print("|---|---|---|---|---|---|")
    for name in ("single", "batch"):
        ours, bare = submit[name], submit[f"{name}_celery"]
        print(
            f"| {name} | {ours['rate']} | {ours['p50_ms']} | {ours['p99_ms']} "
            f"| {bare['p50_ms']} | {bare['p99_ms']} |"
        )
    for name in ("single_max", "batch_max", "health_max"):
        print(f"{name}: {submit[name]['held_rate']} requests/s with p99 < {P99_LIMIT_MS} ms")
    for side in ("triops", "celery"):
        q = queue[side]
        print(
            f"queue latency {side}: start p50 {q['to_start']['p50_ms']} ms, "
            f"p99 {q['to_start']['p99_ms']} ms; done p50 {q['to_finish']['p50_ms']} ms, "
            f"p99 {q['to_finish']['p99_ms']} ms"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
