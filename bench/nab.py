"""Metric anomaly detection on NAB realKnownCause, against a rolling z-score baseline.

Run: ``.venv/bin/python -m bench.nab``. Prints a markdown table and writes
``var/bench/nab.json``.

Data: the seven ``realKnownCause`` series of the Numenta Anomaly Benchmark and their 19
labelled windows (``combined_windows.json``). Scoring follows the reference scorer
(``bench/data/score.py nab``): a window is hit when a flagged timestamp lies inside it; flagged
timestamps outside every window are false detections, and one that lies within 1 % of the
series' time span of the previous false one is not counted again.

Detectors, all run with one set of defaults on every series (labels are never read):

* ``robust`` (ours, the default): :func:`domain.aiops.metrics.detect_anomalies`.
* ``isolation_forest``: the same function with ``method="isolation_forest"``.
* ``zscore`` (baseline): rolling Gaussian z-score, a trailing window of 288 points that
  includes the current one (pandas ``rolling(288, min_periods=2)``, sample std), flag
  ``|z| > 4``. Reproduces the reference figure: 9 of 19 windows, 56 false detections.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.data import REPO_ROOT, benchmarks_dir
from domain.aiops.metrics import detect_anomalies

OUT = REPO_ROOT / "var" / "bench" / "nab.json"
BASELINE_WINDOW = 288
BASELINE_Z = 4.0
DETECTORS = ("robust", "isolation_forest", "zscore")

Window = tuple[pd.Timestamp, pd.Timestamp]


def load_windows(root: Path | None = None) -> dict[str, list[Window]]:
    """Labelled windows per series key (``realKnownCause/<name>.csv``)."""
    path = (root or benchmarks_dir()) / "nab" / "combined_windows.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        key: [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in spans] for key, spans in raw.items()
    }


def load_series(key: str, root: Path | None = None) -> pd.DataFrame:
    """One NAB series: columns ``timestamp`` (datetime64) and ``value`` (float)."""
    frame = pd.read_csv((root or benchmarks_dir()) / "nab" / key)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def score(
    timestamps: pd.Series, windows: Sequence[Window], flagged: Sequence[pd.Timestamp]
) -> tuple[int, int]:
    """(windows hit, false detections), the rule of ``bench/data/score.py nab``."""
    ordered = sorted(flagged)
    hits = sum(1 for a, b in windows if any(a <= t <= b for t in ordered))
    gap = (timestamps.iloc[-1] - timestamps.iloc[0]) / 100
    false, last = 0, None
    for t in ordered:
        if any(a <= t <= b for a, b in windows):
            continue
        if last is None or t - last > gap:
            false += 1
        last = t
    return hits, false


def zscore_flags(frame: pd.DataFrame) -> list[pd.Timestamp]:
    """Baseline: rolling Gaussian z-score over the trailing 288 points, ``|z| > 4``."""
    values = frame["value"].astype(float)
    rolling = values.rolling(BASELINE_WINDOW, min_periods=2)
    z = (values - rolling.mean()) / rolling.std()
    return list(frame["timestamp"][z.abs() > BASELINE_Z])


def _ours(method: str) -> Callable[[pd.DataFrame], list[pd.Timestamp]]:
    def flags(frame: pd.DataFrame) -> list[pd.Timestamp]:
        result = detect_anomalies(
            frame, method="robust" if method == "robust" else "isolation_forest"
        )
        return [pd.Timestamp(a["timestamp"]) for a in result.anomalies]

    return flags


def run(root: Path | None = None, detectors: Sequence[str] = DETECTORS) -> dict[str, Any]:
    """Score each detector on every series.

    Returns ``{"series": [...], "totals": {detector: {...}}}``; per series and detector:
    ``hits``, ``false``, ``flagged`` (points) and ``seconds`` (detector run time).
    """
    runners: dict[str, Callable[[pd.DataFrame], list[pd.Timestamp]]] = {
        "robust": _ours("robust"),
        "isolation_forest": _ours("isolation_forest"),
        "zscore": zscore_flags,
    }
    windows = load_windows(root)
    rows: list[dict[str, Any]] = []
    for key, spans in windows.items():
        frame = load_series(key, root)
        row: dict[str, Any] = {"series": key, "points": len(frame), "windows": len(spans)}
        for name in detectors:
            started = time.perf_counter()
            flagged = runners[name](frame)
            seconds = time.perf_counter() - started
            hits, false = score(frame["timestamp"], spans, flagged)
            row[name] = {
                "hits": hits,
                "false": false,
                "flagged": len(flagged),
                "seconds": round(seconds, 3),
            }
        rows.append(row)
    totals = {
        name: {
            "hits": sum(r[name]["hits"] for r in rows),
            "false": sum(r[name]["false"] for r in rows),
            "flagged": sum(r[name]["flagged"] for r in rows),
            "seconds": round(sum(r[name]["seconds"] for r in rows), 3),
        }
        for name in detectors
    }
    return {
        "windows": sum(r["windows"] for r in rows),
        "series": rows,
        "totals": totals,
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table: hits / false detections and seconds per detector."""
    names = list(report["totals"])
    head = "| series | windows | " + " | ".join(f"{n} hits / false | {n} s" for n in names) + " |"
    rule = "|---|---:|" + "---:|---:|" * len(names)
    lines = [head, rule]
    for row in report["series"]:
        name = row["series"].split("/")[-1].removesuffix(".csv")
        cells = " | ".join(
            f"{row[n]['hits']} / {row[n]['false']} | {row[n]['seconds']:.3f}" for n in names
        )
        lines.append(f"| {name} | {row['windows']} | {cells} |")
    totals = " | ".join(
        f"**{report['totals'][n]['hits']} / {report['totals'][n]['false']}** | "
        f"{report['totals'][n]['seconds']:.3f}"
        for n in names
    )
    lines.append(f"| **total** | {report['windows']} | {totals} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark, print the table, write ``var/bench/nab.json``."""
    report = run()
    print(markdown(report))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
