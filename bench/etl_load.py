"""1,000,000-row ETL into PostgreSQL against a hand-written pandas baseline, same run.

Run: ``.venv/bin/python -m bench.etl_load [ROWS]``. Generates a CSV with 10 mixed columns,
then, each in its own process (so peak memory is its own): ours — the chunked pass of
`dataops.etl`: read, 3 transforms (cast, parse_datetime, lower), 3 checks (not_null,
range, allowed), quarantine, staged with COPY and applied with `replace` in one
transaction; and the baseline — `pd.read_csv` + `to_sql(method="multi", chunksize=5_000)`.
Ours runs again on a quarter of the file and with chunks four times smaller: peak memory
should follow the chunk size, not the file size. Uses
`TRIOPS_DATABASE_URL` or the local PostgreSQL. Writes ``var/bench/etl_load.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import REPO_ROOT

OUT = REPO_ROOT / "var" / "bench" / "etl_load.json"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(rows),
            "host": [f"web-{i % 5000:04d}" for i in range(rows)],
            "region": rng.choice(["EU-West", "US-East", "AP-South", "SA-East"], rows),
            "cpu": rng.uniform(0, 100, rows).round(2),
            "mem_gb": rng.choice([4, 8, 16, 32, 64], rows),
            "disk_pct": rng.uniform(5, 99, rows).round(1),
            "healthy": rng.random(rows) > 0.05,
            "seen": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86400 * 30, rows), unit="s"),
            "latency_ms": rng.gamma(2.0, 20.0, rows).round(3),
            "note": rng.choice(["", "restarted", "patched", "migrated"], rows),
        }
    )
    frame.to_csv(path, index=False)


SPEC: dict[str, Any] = {
    "transforms": [
        {
            "type": "cast",
            "columns": {
                "id": "int",
                "cpu": "float",
                "mem_gb": "int",
                "disk_pct": "float",
                "healthy": "bool",
                "latency_ms": "float",
            },
            "on_error": "quarantine",
        },
        {"type": "parse_datetime", "column": "seen", "on_error": "quarantine"},
        {"type": "lower", "columns": ["region"]},
    ],
    "checks": [
        {"type": "not_null", "columns": ["host"]},
        {"type": "range", "column": "cpu", "min": 0, "max": 100},
        {
            "type": "allowed",
            "column": "region",
            "values": ["eu-west", "us-east", "ap-south", "sa-east"],
        },
    ],
}


def run_ours(path: Path, url: str, chunk_rows: int = 100_000) -> dict[str, Any]:
    """The chunked pass of `dataops.etl` (read, transforms, checks, quarantine) staged
    into the warehouse load, `chunk_rows` rows at a time."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from sqlalchemy import create_engine

    from core import warehouse
    from core.kinds.dataops import ValidateParams
    from tasks.etl_pass import EtlPass
    from tasks.readers import read_csv_chunks

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS wh_bench_etl")
        conn.exec_driver_sql("DELETE FROM etl_loads WHERE job_id = 'bench'")
    started = time.perf_counter()
    steps = ValidateParams.model_validate({"source": {"path": path.name}, **SPEC})
    ctx: Any = SimpleNamespace(now=lambda: datetime.now(UTC), progress=lambda *a, **k: None)
    run = EtlPass(ctx, steps, {}, quarantine_path=None)
    with engine.begin() as conn:
        loading = warehouse.Load(
            conn, table="bench_etl", mode="replace", keys=[], job_id="bench", now=ctx.now()
        )
        for clean in run.chunks(read_csv_chunks(path, ",", chunk_rows)):
            loading.stage(clean)
        report = run.checks.finish(run.columns or [])
        changes = loading.finish()
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert report.results and run.totals()["read"] == run.read
    return {
        "rows": run.read,
        "loaded": changes["inserted"],
        "chunk_rows": chunk_rows,
        "seconds": elapsed,
    }


def run_baseline(path: Path, url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    started = time.perf_counter()
    frame = pd.read_csv(path)
    frame.to_sql(
        "bench_baseline", engine, if_exists="replace", index=False, method="multi", chunksize=5_000
    )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {"rows": len(frame), "loaded": len(frame), "seconds": elapsed}


def _child(which: str, path: str, url: str, chunk_rows: int) -> None:
    if which == "ours":
        result = run_ours(Path(path), url, chunk_rows)
    else:
        result = run_baseline(Path(path), url)
    result["peak_rss_mb"] = round(_peak_rss_kb() / 1024, 1)
    print(json.dumps(result))


def _peak_rss_kb() -> int:
    """This process's peak resident memory. /proc's VmHWM belongs to the process image;
    getrusage's maxrss also keeps the parent's peak from before the exec on Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _spawn(which: str, path: Path, url: str, chunk_rows: int = 100_000) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.etl_load",
            "--child",
            which,
            str(path),
            url,
            str(chunk_rows),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["rows_per_s"] = round(result["rows"] / result["seconds"])
    return result


def main(rows: int = 1_000_000) -> None:
    from core.config import Settings
    from core.migrate import upgrade

    url = os.environ.get("TRIOPS_DATABASE_URL", DEFAULT_DB)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env({"TRIOPS_HOME": tmp, "TRIOPS_DATABASE_URL": url})
        upgrade(settings)
        url = settings.database_url
        path = Path(tmp) / "hosts.csv"
        generate(path, rows)
        quarter = Path(tmp) / "hosts-quarter.csv"
        generate(quarter, rows // 4)
        size_mb = round(path.stat().st_size / 2**20, 1)
        baseline = _spawn("baseline", path, url)
        ours = _spawn("ours", path, url)
        # Memory follows the chunk size, not the file: a quarter of the file with the same
        # chunks, and the whole file with chunks four times smaller.
        memory = {
            "quarter_file": _spawn("ours", quarter, url),
            "quarter_chunks": _spawn("ours", path, url, 25_000),
        }
    result = {
        "rows": rows,
        "file_mb": size_mb,
        "ours": ours,
        "baseline": baseline,
        "memory": memory,
        "speed_ratio": round(ours["rows_per_s"] / baseline["rows_per_s"], 2),
    }
    print("| run | rows | chunk | seconds | rows/s | peak RSS MB |\n|---|---|---|---|---|---|")
    runs = [("ours", ours), ("ours", memory["quarter_file"]), ("ours", memory["quarter_chunks"])]
    for name, r in [*runs, ("baseline", baseline)]:
        chunk = f"{r['chunk_rows']:,}" if "chunk_rows" in r else "whole file"
        print(
            f"| {name} | {r['rows']:,} | {chunk} | {r['seconds']:.1f} | {r['rows_per_s']:,} "
            f"| {r['peak_rss_mb']} |"
        )
    print(f"\nspeed ratio ours/baseline: {result['speed_ratio']} ({rows:,} rows, {size_mb} MB)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
