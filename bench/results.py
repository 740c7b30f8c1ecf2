"""`var/bench/results.json`: the machine, and every figure that compares with a baseline
measured in the same run, as a ratio; a chart of the ratios and a printed table.

Each benchmark writes its own `var/bench/<name>.json`; the figures are read from those
files, so a benchmark that has not run simply contributes nothing. A figure is
``{"value", "baseline", "ratio", "unit", "higher_is_better", "description"}`` with
``ratio = value / baseline``; whether a ratio above 1 is good says `higher_is_better`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.data import REPO_ROOT

BENCH_DIR = REPO_ROOT / "var" / "bench"
OUT = BENCH_DIR / "results.json"
CHART = BENCH_DIR / "results.png"
PACKAGES = ("celery", "kombu", "redis", "sqlalchemy", "pandas", "scikit-learn")

Figure = dict[str, Any]


def figure(
    value: float, baseline: float, *, unit: str, higher_is_better: bool, description: str
) -> Figure:
    """One figure; its ratio is value ÷ baseline (None when the baseline is 0)."""
    ratio = round(value / baseline, 3) if baseline else None
    return {
        "value": value,
        "baseline": baseline,
        "ratio": ratio,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "description": description,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Facts of the machine the figures were measured on."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    url = os.environ.get("TRIOPS_DATABASE_URL", "")
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "database": url.split(":", 1)[0].split("+", 1)[0] if url else "sqlite (embedded)",
    }


# One reader per benchmark: its JSON in, its figures out.


def _throughput(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    yield (
        "throughput_vs_celery",
        {
            **figure(
                data["triops_jobs_per_s"],
                data["celery_jobs_per_s"],
                unit="jobs/s",
                higher_is_better=True,
                description=f"{data['jobs']:,} system.echo jobs through POST /jobs:batch until "
                f"every row is final, against apply_async + results on bare Celery "
                f"({data['workers']} prefork processes each); ratio = median of "
                f"{data['pairs']} ABAB pairs",
            ),
            "ratio": data["ratio"],
        },
    )


def _scaling(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    one, most = data["rows"][0], data["rows"][-1]
    for key, kind, rows in (
        ("echo", "system.echo", data["echo_jobs"]),
        ("cpu", "aiops.detect_metric_anomalies", data["cpu_jobs"]),
    ):
        yield (
            f"scaling_{key}_{most['workers']}_vs_{one['workers']}_processes",
            figure(
                most[key]["jobs_per_s"],
                one[key]["jobs_per_s"],
                unit="jobs/s",
                higher_is_better=True,
                description=f"{rows:,} {kind} jobs through POST /jobs:batch with "
                f"{most['workers']} worker processes, against {one['workers']}",
            ),
        )


def _latency(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    submit, queue = data["submit"], data["queue"]
    for name, what in (
        ("single", "POST /jobs"),
        ("batch", f"POST /jobs:batch of {submit['batch_size']}"),
    ):
        ours, bare = submit[name], submit[f"{name}_celery"]
        for q in ("p50", "p99"):
            yield (
                f"submit_{name}_{q}",
                figure(
                    ours[f"{q}_ms"],
                    bare[f"{q}_ms"],
                    unit="ms",
                    higher_is_better=False,
                    description=f"{what} at {ours['rate']} requests/s (open loop), {q}; baseline: "
                    f"bare Celery apply_async of as many messages at the same rate",
                ),
            )
    health = submit["health_max"]["held_rate"]
    for name, what in (("single", "POST /jobs"), ("batch", "POST /jobs:batch")):
        yield (
            f"submit_{name}_max_rate",
            figure(
                submit[f"{name}_max"]["held_rate"],
                health,
                unit="requests/s",
                higher_is_better=True,
                description=f"highest {what} rate held with p99 < {data['p99_limit_ms']:g} ms; "
                "baseline: the same for GET /health on the same API",
            ),
        )
    ours, bare = queue["triops"], queue["celery"]
    for stage, label in (("to_start", "submit → running"), ("to_finish", "submit → succeeded")):
        for q in ("p50", "p99"):
            yield (
                f"queue_{stage}_{q}",
                figure(
                    ours[stage][f"{q}_ms"],
                    bare[stage][f"{q}_ms"],
                    unit="ms",
                    higher_is_better=False,
                    description=f"{label} {q} at {queue['rate_per_s']} jobs/s (job row "
                    "timestamps); baseline: bare Celery send → task start / result stored",
                ),
            )


def _logparse(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    yield (
        "logparse_speed_vs_drain3",
        figure(
            data["lines_per_s_ours"],
            data["lines_per_s_drain3"],
            unit="lines/s",
            higher_is_better=True,
            description="template mining speed on Loghub-2k against drain3",
        ),
    )
    yield (
        "logparse_ga_vs_drain3",
        figure(
            data["loso_mean_ga"],
            data["mean_ga_drain3"],
            unit="grouping accuracy",
            higher_is_better=True,
            description="mean grouping accuracy (leave-one-system-out) against drain3",
        ),
    )


def _nab(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    loso = data.get("loso", {})
    if "auto" in loso and loso.get("baseline_hits"):
        yield (
            "nab_hits_vs_zscore",
            figure(
                loso["auto"]["hits"],
                loso["baseline_hits"],
                unit="windows hit",
                higher_is_better=True,
                description="NAB realKnownCause windows hit by the default detector "
                "(leave-one-series-out) against a rolling z-score",
            ),
        )


def _log_anomalies(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    rows = [r for r in data["rows"] if r["window_s"] == data["headline_window_s"]]
    ours = next((r for r in rows if r["variant"] == "pca ours (tfidf+l2)"), None)
    raw = next((r for r in rows if r["variant"] == "pca raw counts"), None)
    if ours and raw:
        yield (
            "log_anomalies_f1_vs_raw",
            figure(
                ours["f1"],
                raw["f1"],
                unit="F1",
                higher_is_better=True,
                description=f"BGL_2k window anomalies ({ours['variant']}) against the same "
                "detector on raw counts",
            ),
        )


def _train_overhead(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    for name, case in data["cases"].items():
        yield (
            f"train_time_{name}",
            figure(
                case["train_s"],
                case["plain_fit_s"],
                unit="s",
                higher_is_better=False,
                description=f"a train job's training step ({case['estimator']}) against a "
                "plain scikit-learn fit on the same split",
            ),
        )


def _predict_latency(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    yield (
        "predict_p99_vs_in_process",
        figure(
            data["sequential"]["p99_ms"],
            data["in_process_predict"]["p99_ms"],
            unit="ms",
            higher_is_better=False,
            description="one-record prediction through the HTTP API, p99, against the bare "
            "in-process pipeline.predict",
        ),
    )


def _etl_load(data: dict[str, Any]) -> Iterator[tuple[str, Figure]]:
    yield (
        "etl_speed_vs_pandas",
        figure(
            data["ours"]["rows_per_s"],
            data["baseline"]["rows_per_s"],
            unit="rows/s",
            higher_is_better=True,
            description=f"{data['rows']:,}-row ETL into the database against pd.read_csv + to_sql",
        ),
    )


READERS: dict[str, Callable[[dict[str, Any]], Iterator[tuple[str, Figure]]]] = {
    "throughput": _throughput,
    "latency": _latency,
    "scaling": _scaling,
    "logparse": _logparse,
    "nab": _nab,
    "log_anomalies": _log_anomalies,
    "train_overhead": _train_overhead,
    "predict_latency": _predict_latency,
    "etl_load": _etl_load,
}


def collect(directory: Path = BENCH_DIR) -> dict[str, Figure]:
    """Every figure whose benchmark output is in `directory`."""
    figures: dict[str, Figure] = {}
    for name, reader in READERS.items():
        path = directory / f"{name}.json"
        if not path.is_file():
            continue
        try:
            figures.update(reader(json.loads(path.read_text())))
        except (KeyError, TypeError, ValueError) as exc:
            # An output of an older shape: its figures are left out, the others stand.
            print(f"{path.name}: no figures read ({type(exc).__name__}: {exc})")
    return figures


def chart(figures: dict[str, Figure], path: Path) -> None:
    """A horizontal bar per figure: its ratio, with 1.0 (the baseline) marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, f in figures.items() if f["ratio"] is not None]
    ratios = [figures[n]["ratio"] for n in names]
    good = [
        (r >= 1) if figures[n]["higher_is_better"] else (r <= 1)
        for n, r in zip(names, ratios, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(names) + 1.5))
    ax.barh(names, ratios, color=["#2e7d32" if g else "#c62828" for g in good])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("ratio to the baseline (log scale; green: better than the baseline)")
    ax.set_title("triops benchmarks: each figure against its baseline, same run")
    for y, ratio in enumerate(ratios):
        ax.text(ratio, y, f" {ratio:g}", va="center", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(figures: dict[str, Figure]) -> str:
    lines = ["| figure | value | baseline | unit | ratio | better |", "|---|---|---|---|---|---|"]
    for name, f in figures.items():
        better = "higher" if f["higher_is_better"] else "lower"
        lines.append(
            f"| {name} | {f['value']} | {f['baseline']} | {f['unit']} | {f['ratio']} | {better} |"
        )
    return "\n".join(lines)


def write(directory: Path = BENCH_DIR) -> dict[str, Any]:
    """Collect, write results.json and results.png, print the table."""
    figures = collect(directory)
    result = {"machine": machine(), "figures": figures}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OUT.name).write_text(json.dumps(result, indent=2) + "\n")
    if figures:
        chart(figures, directory / CHART.name)
    print(table(figures))
    return result
