"""Training overhead benchmark: a train job's training step against a plain scikit-learn fit.

Run: ``.venv/bin/python -m bench.train_overhead``. Prints a markdown table and writes
``var/bench/train_overhead.json``.

Target: ``domain.mlops.training.train`` (split, fit, held-out metrics; ``test_size=0.25``,
``cv_folds=0``) takes at most 1.1x the time of ``build_pipeline(...).fit(X_train, y_train)``
alone on the same split. Cases: breast_cancer with random_forest, digits with
logistic_regression, and a seeded synthetic 50,000-row frame of numeric and categorical
features (with missing values) with hist_gradient_boosting. Same process; each side runs
``REPEATS`` times, interleaved (alternating which goes first), after one warm-up; the
figures are ratios of medians.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from bench.data import REPO_ROOT
from domain.mlops.estimators import build_estimator
from domain.mlops.training import build_pipeline, train
from domain.mlops.training_data import Dataset, from_frame, load_bundled

OUT = REPO_ROOT / "var" / "bench" / "train_overhead.json"
REPEATS = 5
TEST_SIZE = 0.25
SEED = 0
TARGET_RATIO = 1.1
SYNTHETIC_ROWS = 50_000


def synthetic_frame(rows: int = SYNTHETIC_ROWS, seed: int = SEED) -> pd.DataFrame:
    """A seeded mixed frame: 8 numeric and 3 categorical features, some missing; target `y`.

    Parameters
    ----------
    rows:
        Number of rows.
    seed:
        Seed of the generator.

    Returns
    -------
    The frame; `y` is a binary label depending on numeric and categorical features.
    """
    rng = np.random.default_rng(seed)
    numeric = rng.normal(size=(rows, 8))
    frame = pd.DataFrame(numeric, columns=[f"x{i}" for i in range(8)])
    frame["colour"] = rng.choice(["red", "green", "blue", "grey", "black"], size=rows)
    frame["region"] = rng.choice([f"r{i:02d}" for i in range(20)], size=rows)
    frame["sku"] = rng.choice([f"sku{i:03d}" for i in range(200)], size=rows)
    score = numeric[:, 0] - 0.5 * numeric[:, 1] + 0.8 * (frame["colour"] == "red").to_numpy()
    frame["y"] = np.where(score + rng.normal(scale=0.5, size=rows) > 0, "yes", "no")
    for column in ("x2", "x5", "colour", "sku"):
        frame.loc[rng.random(rows) < 0.05, column] = None
    return frame


def _cases() -> list[tuple[str, Dataset, str]]:
    return [
        ("breast_cancer", load_bundled("breast_cancer"), "random_forest"),
        ("digits", load_bundled("digits"), "logistic_regression"),
        (
            f"synthetic_{SYNTHETIC_ROWS // 1000}k_mixed",
            from_frame(synthetic_frame(), "y", name="synthetic"),
            "hist_gradient_boosting",
        ),
    ]


def measure(dataset: Dataset, estimator: str, repeats: int = REPEATS) -> dict[str, Any]:
    """Median times of `train(...)` and of a plain pipeline fit on the same split.

    Parameters
    ----------
    dataset:
        The data.
    estimator:
        An estimator name.
    repeats:
        Timed runs of each side (after one untimed warm-up), interleaved.

    Returns
    -------
    Rows, median seconds of each side, the difference in milliseconds, and the ratios
    `train / plain fit` and `fit_seconds / plain fit`.
    """
    x_train, _, y_train, _ = train_test_split(
        dataset.features,
        dataset.target,
        test_size=TEST_SIZE,
        random_state=SEED,
        stratify=dataset.target if dataset.task == "classification" else None,
    )

    def plain_fit() -> float:
        model = build_estimator(estimator, {}, task=dataset.task, random_state=SEED)
        pipeline = build_pipeline(dataset.features, model)
        started = time.perf_counter()
        pipeline.fit(x_train, y_train)
        return time.perf_counter() - started

    def train_job() -> tuple[float, float, dict[str, float]]:
        started = time.perf_counter()
        trained = train(dataset, estimator=estimator, test_size=TEST_SIZE, random_state=SEED)
        return time.perf_counter() - started, trained.fit_seconds, trained.metrics

    plain_fit()
    train_job()
    plain_times: list[float] = []
    train_times: list[float] = []
    fit_times: list[float] = []
    metrics: dict[str, float] = {}
    for repeat in range(repeats):
        # Alternate which side goes first, so neither always runs on a warmer machine.
        if repeat % 2:
            total, fit, metrics = train_job()
            plain_times.append(plain_fit())
        else:
            plain_times.append(plain_fit())
            total, fit, metrics = train_job()
        train_times.append(total)
        fit_times.append(fit)
    plain = statistics.median(plain_times)
    whole = statistics.median(train_times)
    fit = statistics.median(fit_times)
    return {
        "rows": len(dataset.features),
        "features": dataset.features.shape[1],
        "estimator": estimator,
        "plain_fit_s": round(plain, 4),
        "train_s": round(whole, 4),
        "fit_seconds_s": round(fit, 4),
        "overhead_ms": round((whole - plain) * 1000, 1),
        "train_vs_plain": round(whole / plain, 3),
        "fit_seconds_vs_plain": round(fit / plain, 3),
        "metrics": {key: round(value, 4) for key, value in metrics.items()},
    }


def run() -> dict[str, Any]:
    """Measure every case.

    Returns
    -------
    Settings, per-case figures and whether every `train_vs_plain` is within the target.
    """
    cases = {name: measure(dataset, estimator) for name, dataset, estimator in _cases()}
    return {
        "repeats": REPEATS,
        "test_size": TEST_SIZE,
        "target_ratio": TARGET_RATIO,
        "cases": cases,
        "within_target": all(case["train_vs_plain"] <= TARGET_RATIO for case in cases.values()),
    }


def main() -> None:
    """Run the benchmark, print a markdown table, write ``var/bench/train_overhead.json``."""
    result = run()
    print(
        "| case | estimator | rows | plain fit s | train() s | overhead ms "
        "| train/plain | fit_seconds/plain |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, case in result["cases"].items():
        print(
            f"| {name} | {case['estimator']} | {case['rows']} | {case['plain_fit_s']} "
            f"| {case['train_s']} | {case['overhead_ms']} | {case['train_vs_plain']} "
            f"| {case['fit_seconds_vs_plain']} |"
        )
    print(f"\nwithin {TARGET_RATIO}x: {result['within_target']}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Path(OUT).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
