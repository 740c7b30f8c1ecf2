"""Scaling: how throughput grows with worker processes, for no-op jobs and for a
CPU-bound kind, on this machine.

For 1, 2 and 4 processes (`--workers`), a fresh `triops api` + `triops worker aiops` of
that many processes runs N `system.echo` jobs and M `aiops.detect_metric_anomalies`
jobs (a 2,000-point seasonal series each: seasonal decomposition and robust scores, a
few hundred milliseconds of one core) through the batch endpoint until every row is
final. Each figure is the rate with the most processes ÷ the rate with one, measured in
the same run.

Run: ``.venv/bin/python -m bench scaling [--quick]``. Writes ``var/bench/scaling.json``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.data import REPO_ROOT
from bench.stack import services, triops
from bench.throughput import run_batches, run_triops
from core.db import dispose_engines

OUT = REPO_ROOT / "var" / "bench" / "scaling.json"
WORKERS = (1, 2, 4)


def series(points: int = 2_000, seed: int = 0) -> list[dict[str, Any]]:
    """A daily-seasonal series at 5-minute steps with a trend and a few spikes."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(points):
        value = 50 + 10 * math.sin(2 * math.pi * i / 288) + 0.01 * i + ((i * 7919 + seed) % 13) / 4
        if i % 701 == 350:
            value += 60
        out.append({"timestamp": (start + timedelta(minutes=5 * i)).isoformat(), "value": value})
    return out


def run(
    *, echo_jobs: int = 3_000, cpu_jobs: int = 40, workers: tuple[int, ...] = WORKERS
) -> dict[str, Any]:
    cpu_params = [{"points": series(seed=i), "method": "auto"} for i in range(cpu_jobs)]
    rows: list[dict[str, Any]] = []
    for count in workers:
        with services(count) as svc, triops(svc) as stack:
            run_triops(svc, stack, 50, timeout_s=60)  # warm-up
            echo = run_triops(svc, stack, echo_jobs, timeout_s=max(300.0, echo_jobs / 2))
            cpu_kind = "aiops.detect_metric_anomalies"
            cpu = run_batches(svc, stack, cpu_kind, cpu_params, timeout_s=600)
            database = svc.settings.database_url.split(":", 1)[0].split("+", 1)[0]
        dispose_engines()
        rows.append({"workers": count, "echo": echo, "cpu": cpu})
        print(
            f"{count} processes: echo {echo['jobs_per_s']} jobs/s, "
            f"metric anomalies {cpu['jobs_per_s']} jobs/s",
            flush=True,
        )
    one, most = rows[0], rows[-1]
    return {
        "echo_jobs": echo_jobs,
        "cpu_jobs": cpu_jobs,
        "database": database,
        "rows": rows,
        "echo_ratio": round(most["echo"]["jobs_per_s"] / one["echo"]["jobs_per_s"], 3),
        "cpu_ratio": round(most["cpu"]["jobs_per_s"] / one["cpu"]["jobs_per_s"], 3),
        "most_workers": most["workers"],
    }


def main(*, quick: bool = False) -> dict[str, Any]:
    result = run(echo_jobs=500, cpu_jobs=12) if quick else run()
    print("| processes | system.echo jobs/s | aiops.detect_metric_anomalies jobs/s |")
    print("|---|---|---|")
    for row in result["rows"]:
        print(f"| {row['workers']} | {row['echo']['jobs_per_s']} | {row['cpu']['jobs_per_s']} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
