"""results.json: each benchmark's output read into figures, ratios to the same-run baseline."""

from __future__ import annotations

import json
from pathlib import Path

from bench import results


def _write(directory: Path, name: str, data: object) -> None:
    (directory / f"{name}.json").write_text(json.dumps(data))


def test_figures_are_read_from_the_outputs_present_as_value_over_baseline(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "etl_load",
        {"rows": 1000, "ours": {"rows_per_s": 500}, "baseline": {"rows_per_s": 250}},
    )
    _write(
        tmp_path,
        "log_anomalies",
        {
            "headline_window_s": 3600,
            "rows": [
                {"variant": "pca ours (tfidf+l2)", "window_s": 3600, "f1": 0.5},
                {"variant": "pca raw counts", "window_s": 3600, "f1": 0.25},
                {"variant": "pca raw counts", "window_s": 600, "f1": 0.9},
            ],
        },
    )
    figures = results.collect(tmp_path)
    assert set(figures) == {"etl_speed_vs_pandas", "log_anomalies_f1_vs_raw"}
    assert figures["etl_speed_vs_pandas"]["ratio"] == 2.0
    assert figures["etl_speed_vs_pandas"]["higher_is_better"] is True
    assert figures["log_anomalies_f1_vs_raw"]["ratio"] == 2.0


def test_an_output_of_another_shape_is_left_out_and_the_rest_stand(tmp_path: Path) -> None:
    _write(tmp_path, "predict_latency", {"sequential": {}})
    _write(
        tmp_path,
        "train_overhead",
        {"cases": {"digits": {"train_s": 0.3, "plain_fit_s": 0.2, "estimator": "lr"}}},
    )
    figures = results.collect(tmp_path)
    assert list(figures) == ["train_time_digits"]
    assert figures["train_time_digits"]["ratio"] == 1.5
    assert figures["train_time_digits"]["higher_is_better"] is False


def test_a_zero_baseline_gives_no_ratio_rather_than_a_division_error() -> None:
    figure = results.figure(3, 0, unit="requests/s", higher_is_better=True, description="x")
    assert figure["ratio"] is None
