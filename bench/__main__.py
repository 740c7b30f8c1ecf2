"""`make bench`: every benchmark, one after the other; figures in var/bench/*.json.

Run one with `python -m bench.NAME` (see BENCHMARKS).
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = (
    "logparse",
    "nab",
    "log_anomalies",
    "alerts",
    "correlation_job",
    "train_overhead",
    "predict_latency",
    "etl_load",
)


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"\n({name}: {time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
