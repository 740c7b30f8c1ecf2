from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from domain.mlops.evaluation import LOWER_IS_BETTER, compute_metrics, evaluate, gate, predict
from domain.mlops.schema import SchemaError
from domain.mlops.training import train
from domain.mlops.training_data import Dataset, load_bundled


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_classification_metrics_match_scikit_learn(classes: int) -> None:
    rng = np.random.default_rng(classes)
    for _ in range(10):
        rows = int(rng.integers(30, 200))
        truth = rng.integers(0, classes, rows)
        truth[:classes] = np.arange(classes)
        predicted = rng.integers(0, classes, rows)
        proba = rng.random((rows, classes)).round(1) + 1e-3  # rounded: many ties
        proba /= proba.sum(axis=1, keepdims=True)
        labels = list(range(classes))
        metrics = compute_metrics(truth, predicted, proba, task="classification", classes=labels)
        expected_auc = (
            roc_auc_score(truth, proba[:, 1])
            if classes == 2
            else roc_auc_score(truth, proba, multi_class="ovr", labels=labels)
        )
        assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
        assert metrics["f1"] == pytest.approx(
            f1_score(truth, predicted, average="macro", zero_division=0)
        )
        assert metrics["roc_auc"] == pytest.approx(expected_auc)


def test_text_labels_and_labels_only_predicted_count_in_macro_f1() -> None:
    truth = np.array(["cat", "dog", "cat", "dog"])
    predicted = np.array(["cat", "cat", "bird", "dog"])
    metrics = compute_metrics(truth, predicted, None, task="classification", classes=None)
    assert metrics == {
        "accuracy": 0.5,
        "f1": pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0)),
    }


def test_roc_auc_is_left_out_when_a_class_has_no_true_row() -> None:
    truth = np.array([0, 0, 1, 1])
    proba = np.full((4, 3), 1 / 3)
    metrics = compute_metrics(truth, truth, proba, task="classification", classes=[0, 1, 2])
    assert "roc_auc" not in metrics
    assert metrics["accuracy"] == 1.0


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(size=80)
    predicted = truth + rng.normal(scale=0.5, size=80)
    metrics = compute_metrics(truth, predicted, None, task="regression", classes=None)
    assert metrics["rmse"] == pytest.approx(mean_squared_error(truth, predicted) ** 0.5)
    assert metrics["mae"] == pytest.approx(mean_absolute_error(truth, predicted))
    assert metrics["r2"] == pytest.approx(r2_score(truth, predicted))
    assert {"rmse", "mae"} == LOWER_IS_BETTER


def test_no_rows_give_no_metrics_and_lengths_must_agree() -> None:
    assert compute_metrics([], [], None, task="regression", classes=None) == {}
    with pytest.raises(ValueError, match="3 true values but 2 predictions"):
        compute_metrics([1, 2, 3], [1, 2], None, task="regression", classes=None)


def test_a_regressor_evaluates_on_diabetes_like_its_training_said() -> None:
    diabetes = load_bundled("diabetes")
    trained = train(diabetes, estimator="linear_regression", test_size=0.25)
    metrics = evaluate(trained.pipeline, diabetes, task="regression")
    assert set(metrics) == {"rmse", "mae", "r2"}
    assert 40 < metrics["rmse"] < 70
    assert 0.3 < metrics["r2"] < 0.7


def test_evaluating_data_without_a_models_feature_is_a_schema_error() -> None:
    iris = load_bundled("iris")
    trained = train(iris, estimator="logistic_regression")
    partial = Dataset(
        name="partial",
        features=iris.features.drop(columns=["petal width (cm)"]),
        target=iris.target,
        task="classification",
        fingerprint="",
    )
    with pytest.raises(SchemaError) as caught:
        evaluate(trained.pipeline, partial, task="classification")
    assert caught.value.missing == ["petal width (cm)"]


def test_predictions_and_probabilities_are_plain_python_values() -> None:
    iris = load_bundled("iris")
    trained = train(iris, estimator="logistic_regression")
    predictions, probabilities = predict(trained.pipeline, iris.features.head(3))
    assert predictions == [0, 0, 0]
    assert all(type(value) is int for value in predictions)
    assert probabilities is not None
    assert list(probabilities[0]) == ["0", "1", "2"]
    assert all(type(p) is float for p in probabilities[0].values())
    assert sum(probabilities[0].values()) == pytest.approx(1.0)


def test_a_regressor_predicts_floats_without_probabilities() -> None:
    diabetes = load_bundled("diabetes")
    trained = train(diabetes, estimator="ridge")
    predictions, probabilities = predict(trained.pipeline, diabetes.features.head(2))
    assert probabilities is None
    assert all(type(value) is float for value in predictions)


def test_a_classifier_without_probabilities_predicts_labels_only() -> None:
    iris = load_bundled("iris")
    trained = train(iris, estimator="svm")
    predictions, probabilities = predict(trained.pipeline, iris.features.tail(2))
    assert probabilities is None
    assert predictions == [2, 2]
    assert "roc_auc" not in trained.metrics


GATE_CASES: list[tuple[str, dict[str, Any], bool, list[str]]] = [
    ("no-thresholds", {}, True, []),
    ("minimum-met", {"minimums": {"accuracy": 0.9}}, True, []),
    ("minimum-met-exactly", {"minimums": {"accuracy": 0.92}}, True, []),
    ("minimum-missed", {"minimums": {"accuracy": 0.95}}, False, ["below the minimum 0.95"]),
    ("maximum-met", {"maximums": {"rmse": 50}}, True, []),
    ("maximum-missed", {"maximums": {"rmse": 40}}, False, ["above the maximum 40"]),
    ("absent-metric", {"minimums": {"roc_auc": 0.5}}, False, ["roc_auc was not computed"]),
    ("no-live", {"max_drop": {"accuracy": 0.01}}, True, ["no live version to compare"]),
    (
        "drop-within",
        {"max_drop": {"accuracy": 0.05}, "live_metrics": {"accuracy": 0.97}},
        True,
        [],
    ),
    (
        "drop-to-the-limit",
        {"max_drop": {"accuracy": 0.05}, "live_metrics": {"accuracy": 0.97000000001}},
        True,
        [],
    ),
    (
        "drop-too-far",
        {"max_drop": {"accuracy": 0.01}, "live_metrics": {"accuracy": 0.97}},
        False,
        ["accuracy 0.92 is worse than the live 0.97 by 0.05 (allowed 0.01)"],
    ),
    (
        "lower-is-better-rises-too-far",
        {"max_drop": {"rmse": 2}, "live_metrics": {"rmse": 40}},
        False,
        ["rmse 45 is worse than the live 40 by 5 (allowed 2)"],
    ),
    (
        "lower-is-better-falls",
        {"max_drop": {"rmse": 0}, "live_metrics": {"rmse": 60}},
        True,
        [],
    ),
    (
        "higher-is-better-improves",
        {"max_drop": {"accuracy": 0}, "live_metrics": {"accuracy": 0.5}},
        True,
        [],
    ),
    (
        "live-lacks-the-metric",
        {"max_drop": {"mae": 1}, "live_metrics": {"accuracy": 0.5}},
        True,
        ["the live version has no mae to compare"],
    ),
    (
        "one-failure-fails-all",
        {"minimums": {"accuracy": 0.9}, "maximums": {"rmse": 10}},
        False,
        ["rmse 45 is above the maximum 10"],
    ),
]


@pytest.mark.parametrize(
    ("thresholds", "passed", "reasons"),
    [case[1:] for case in GATE_CASES],
    ids=[case[0] for case in GATE_CASES],
)
def test_the_gate_decides_from_thresholds_and_the_live_version(
    thresholds: dict[str, Any], passed: bool, reasons: list[str]
) -> None:
    candidate = {"accuracy": 0.92, "rmse": 45.0, "mae": 30.0}
    verdict = gate(candidate, **thresholds)
    assert verdict.passed is passed
    assert len(verdict.reasons) == len(reasons)
    for reason, fragment in zip(verdict.reasons, reasons, strict=True):
        assert fragment in reason
    assert all(
        set(check) == {"metric", "kind", "threshold", "value", "live", "passed"}
        for check in verdict.checks
    )


def test_each_check_is_recorded_with_its_kind_values_and_outcome() -> None:
    verdict = gate(
        {"rmse": 45.0},
        maximums={"rmse": 50},
        max_drop={"rmse": 2},
        live_metrics={"rmse": 40.0},
    )
    assert verdict.checks == [
        {
            "metric": "rmse",
            "kind": "max",
            "threshold": 50.0,
            "value": 45.0,
            "live": None,
            "passed": True,
        },
        {
            "metric": "rmse",
            "kind": "not_worse_than_live",
            "threshold": 2.0,
            "value": 45.0,
            "live": 40.0,
            "passed": False,
        },
    ]
    assert verdict.passed is False


def test_a_non_finite_candidate_metric_fails_and_a_bad_threshold_is_refused() -> None:
    assert gate({"r2": float("nan")}, minimums={"r2": 0.1}).passed is False
    with pytest.raises(ValueError, match="thresholds must be finite numbers"):
        gate({"r2": 0.5}, minimums={"r2": "high"})  # type: ignore[dict-item]


def test_metrics_of_a_frame_target_work_like_arrays() -> None:
    truth = pd.Series(["a", "b", "a"])
    metrics = compute_metrics(truth, ["a", "b", "b"], None, task="classification", classes=None)
    assert metrics["accuracy"] == pytest.approx(2 / 3)
