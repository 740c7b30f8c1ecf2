"""`make bench`: every benchmark, one after the other; figures in var/bench/*.json, then
var/bench/results.json (every figure as a ratio to its same-run baseline), a chart of the
ratios (var/bench/results.png) and a table.

Run some: `python -m bench throughput latency`; `--quick` for small sizes;
`--jobs N` sets the throughput benchmark's job count. `python -m bench.NAME` runs one
benchmark alone (without results.json).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from typing import Any

from bench import results

BENCHMARKS = (
    "throughput",
    "latency",
    "scaling",
    "logparse",
    "nab",
    "log_anomalies",
    "alerts",
    "correlation_job",
    "train_overhead",
    "predict_latency",
    "etl_load",
)
QUICK_JOBS = 500
QUICK_ETL_ROWS = 100_000


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--jobs", type=int, default=None, help="throughput: jobs per run")
    parser.add_argument("--pairs", type=int, default=2, help="throughput: ABAB pairs (>= 1)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (one of {', '.join(BENCHMARKS)})")
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    return args


def run_one(name: str, args: argparse.Namespace) -> None:
    module: Any = importlib.import_module(f"bench.{name}")
    if name == "throughput":
        jobs = args.jobs or (QUICK_JOBS if args.quick else 5_000)
        module.main(jobs=jobs, pairs=args.pairs)
    elif name in ("latency", "scaling"):
        module.main(quick=args.quick)
    elif name == "etl_load" and args.quick:
        module.main(QUICK_ETL_ROWS)
    else:
        module.main()


def main(argv: list[str]) -> int:
    args = parse(argv)
    for name in args.names or BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        started = time.perf_counter()
        run_one(name, args)
        print(f"\n({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    print("\n## results\n", flush=True)
    results.write()
    print(f"\nwrote {results.OUT.relative_to(results.REPO_ROOT)} and {results.CHART.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
