"""Log anomaly detection on Loghub BGL_2k, per time window, against a raw-count baseline.

Run: ``.venv/bin/python -m bench.log_anomalies``. Prints a markdown table and writes
``var/bench/log_anomalies.json``.

Events are BGL_2k's ground-truth ``EventId`` (so the figures measure the detector, not the
template miner). A window is anomalous when any of its lines carries an alert ``Label``. The
detector is fitted on the first half of the windows and judged on the second half. "ours" is
TF-IDF + L2 normalisation; "raw" is the same detector on raw counts. The semi-supervised row
(reference windows holding an alert left out of the fit) documents an attempt that did not
raise precision.

No second labelled evaluation exists in the repository's data: only BGL_2k has labels
(HDFS_2k ships without the block labels), and BGL grouped per node gives 1,778 "sessions"
for 2,000 lines (one line each), which measures nothing a window does not.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data import REPO_ROOT, benchmarks_dir
from domain.aiops.log_anomalies import (
    DetectorConfig,
    LogRecord,
    count_by_window,
    detect,
    fit_detector,
    precision_recall_f1,
    row_labels,
    score_rows,
)

OUT = REPO_ROOT / "var" / "bench" / "log_anomalies.json"
WINDOWS_S = (600, 1800, 3600, 10800)
HEADLINE_WINDOW_S = 3600
REFERENCE_FRACTION = 0.5
VARIANTS: dict[str, DetectorConfig] = {
    "pca ours (tfidf+l2)": DetectorConfig(method="pca"),
    "pca raw counts": DetectorConfig(method="pca", weighting="none", normalise=False),
    "iforest ours (tfidf+l2)": DetectorConfig(method="isolation_forest"),
    "iforest raw counts": DetectorConfig(
        method="isolation_forest", weighting="none", normalise=False
    ),
}


def load_bgl(root: Path | None = None) -> tuple[list[LogRecord], np.ndarray]:
    """BGL_2k lines as records (ground-truth event ids) and their alert labels."""
    path = (root or benchmarks_dir()) / "loghub" / "BGL" / "BGL_2k.log_structured_corrected.csv"
    frame = pd.read_csv(path, usecols=["Label", "Timestamp", "EventId"])
    records = [
        LogRecord(event_id=str(event), timestamp_s=float(ts))
        for event, ts in zip(frame["EventId"], frame["Timestamp"], strict=True)
    ]
    return records, (frame["Label"] != "-").to_numpy()


def evaluate(
    records: list[LogRecord],
    labels: np.ndarray,
    *,
    window_s: float,
    config: DetectorConfig,
    reference_fraction: float = REFERENCE_FRACTION,
    normal_only_reference: bool = False,
) -> dict[str, Any]:
    """Precision / recall / F1 over the scored (non-reference) windows.

    ``normal_only_reference`` is the semi-supervised setting: the reference windows that
    hold an alert line are left out of the fit (labels of the scored half are never read).
    """
    counts = count_by_window(records, window_s=window_s)
    truth = row_labels(counts, labels)
    start = time.perf_counter()
    result = detect(counts, reference_fraction=reference_fraction, config=config)
    if normal_only_reference:
        reference = ~result.scored & ~truth
        model = fit_detector(counts, reference=reference, config=config)
        scores = score_rows(model, counts, reference=reference).scores
        flagged = result.scored & (scores > model.threshold)
    else:
        flagged = result.flagged
    elapsed_s = time.perf_counter() - start
    quality = precision_recall_f1(flagged[result.scored], truth[result.scored])
    return {
        "window_s": window_s,
        "windows": len(counts),
        "scored_windows": int(result.scored.sum()),
        "anomalous_scored_windows": int(truth[result.scored].sum()),
        "flagged": int(flagged.sum()),
        "precision": round(quality.precision, 3),
        "recall": round(quality.recall, 3),
        "f1": round(quality.f1, 3),
        "seconds": round(elapsed_s, 3),
    }


def run() -> dict[str, Any]:
    """Every window size × variant on BGL_2k."""
    records, labels = load_bgl()
    rows = []
    for window_s in WINDOWS_S:
        for name, config in VARIANTS.items():
            rows.append(
                {"variant": name, **evaluate(records, labels, window_s=window_s, config=config)}
            )
        rows.append(
            {
                "variant": "pca ours, normal-only reference (semi-supervised; tried)",
                **evaluate(
                    records,
                    labels,
                    window_s=window_s,
                    config=DetectorConfig(method="pca"),
                    normal_only_reference=True,
                ),
            }
        )
    return {
        "dataset": "loghub BGL_2k (ground-truth EventId)",
        "lines": len(records),
        "alert_lines": int(labels.sum()),
        "reference_fraction": REFERENCE_FRACTION,
        "headline_window_s": HEADLINE_WINDOW_S,
        "rows": rows,
    }


def main() -> None:
    """Run the benchmark, print a markdown table, write ``var/bench/log_anomalies.json``."""
    result = run()
    print(
        f"BGL_2k: {result['lines']} lines, {result['alert_lines']} alert lines; "
        f"fit on the first {result['reference_fraction']:.0%} of windows, scored on the rest\n"
    )
    print("| window_s | variant | scored windows (anomalous) | flagged | P | R | F1 |")
    print("|---|---|---|---|---|---|---|")
    for row in result["rows"]:
        print(
            f"| {row['window_s']} | {row['variant']} | {row['scored_windows']} "
            f"({row['anomalous_scored_windows']}) | {row['flagged']} | {row['precision']:.3f} "
            f"| {row['recall']:.3f} | {row['f1']:.3f} |"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
