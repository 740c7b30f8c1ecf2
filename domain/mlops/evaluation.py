"""Scoring models, quality gates that decide whether a candidate may go live, and predicting."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.pipeline import Pipeline

from domain.mlops.estimators import ESTIMATORS
from domain.mlops.schema import SchemaError
from domain.mlops.training_data import Dataset, Task

CLASSIFICATION_METRICS = ("accuracy", "f1", "roc_auc")
REGRESSION_METRICS = ("rmse", "mae", "r2")
LOWER_IS_BETTER = {"rmse", "mae"}

# Thresholds compare with this slack, so 0.9 - 0.05 allows 0.85 despite float rounding.
_TOLERANCE = 1e-9

_ARGMAX_CLASSES = frozenset(
    cls for spec in ESTIMATORS.values() if spec.argmax_predicts for cls in spec.classes.values()
)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else unchanged.

    Parameters
    ----------
    value:
        Any value, e.g. an element of a numpy array.

    Returns
    -------
    `value.item()` for numpy scalars, else `value`.
    """
    return value.item() if isinstance(value, np.generic) else value


def model_classes(pipeline: Pipeline) -> list[Any] | None:
    """The class labels of a fitted classifier pipeline, as plain values.

    Parameters
    ----------
    pipeline:
        A fitted pipeline.

    Returns
    -------
    The labels in the order of `predict_proba`'s columns; None for a regressor.
    """
    classes = getattr(pipeline, "classes_", None)
    return None if classes is None else [plain(c) for c in classes]


def predict_with_proba(pipeline: Pipeline, features: pd.DataFrame) -> tuple[Any, Any]:
    """Predictions and, for classifiers with `predict_proba`, class probabilities.

    The features go through the preprocessing once. When the estimator's prediction is the
    class of highest probability, predictions are derived from the probabilities instead of
    running the model a second time.

    Parameters
    ----------
    pipeline:
        A fitted pipeline (preprocessing steps, then the estimator).
    features:
        Rows to predict, with the training feature columns.

    Returns
    -------
    `(predictions, probabilities)` as numpy arrays; probabilities is None when the model
    has none (regressors, or classifiers without `predict_proba`).
    """
    model = pipeline[-1]
    if not hasattr(model, "predict_proba"):
        return pipeline.predict(features), None
    transformed = pipeline[:-1].transform(features) if len(pipeline) > 1 else features
    probabilities = model.predict_proba(transformed)
    if type(model) in _ARGMAX_CLASSES:
        predictions = model.classes_.take(np.argmax(probabilities, axis=1))
    else:
        predictions = model.predict(transformed)
    return predictions, probabilities


def compute_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_proba: np.ndarray | None,
    *,
    task: Task,
    classes: list[Any] | None,
) -> dict[str, float]:
    """The quality metrics of predictions against the truth.

    The same values as scikit-learn's `accuracy_score`, `f1_score(average="macro")`,
    `roc_auc_score` (`multi_class="ovr"`), `mean_squared_error`, `mean_absolute_error` and
    `r2_score`, computed directly with numpy: a training step pays for its metrics in
    microseconds rather than in input validation.

    Parameters
    ----------
    y_true:
        The true targets.
    y_pred:
        The predicted targets, one per true one.
    y_proba:
        Class probabilities, one column per entry of `classes`, or None.
    task:
        `classification` or `regression`.
    classes:
        The model's class labels in probability-column order (classification).

    Returns
    -------
    Classification: `accuracy`, `f1` (macro average over the labels seen in either
    input) and, with probabilities, `roc_auc` (binary: probability of the second class;
    multiclass: one-vs-rest macro average), left out when some class of the model has no
    row in `y_true`. Regression: `rmse`, `mae` and `r2` (r2 left out under two rows).
    Empty when there are no rows.

    Raises
    ------
    ValueError
        `y_true` and `y_pred` differ in length.
    """
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true values but {len(predicted)} predictions")
    if len(truth) == 0:
        return {}
    if task == "regression":
        return _regression_metrics(truth.astype(float), predicted.astype(float))
    labels, codes = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
    codes = codes.reshape(-1)
    true_codes, predicted_codes = codes[: len(truth)], codes[len(truth) :]
    hits = true_codes == predicted_codes
    # Per label: F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (true count + predicted count).
    true_positives = np.bincount(true_codes[hits], minlength=len(labels))
    counts = np.bincount(true_codes, minlength=len(labels)) + np.bincount(
        predicted_codes, minlength=len(labels)
    )
    metrics = {
        "accuracy": float(np.mean(hits)),
        "f1": float(np.mean(2 * true_positives / counts)),
    }
    auc = _roc_auc(truth, y_proba, classes)
    if auc is not None:
        metrics["roc_auc"] = auc
    return metrics


def _regression_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    errors = truth - predicted
    metrics = {
        "rmse": math.sqrt(float(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
    }
    if len(truth) >= 2:
        residual = float(np.sum(errors**2))
        total = float(np.sum((truth - truth.mean()) ** 2))
        # As scikit-learn's r2_score: a constant truth scores 1 when predicted exactly, else 0.
        if total == 0:
            metrics["r2"] = 1.0 if residual == 0 else 0.0
        else:
            metrics["r2"] = 1 - residual / total
    return metrics


def _roc_auc(
    truth: np.ndarray, proba: np.ndarray | None, classes: list[Any] | None
) -> float | None:
    if proba is None or not classes or len(classes) < 2:
        return None
    present = set(pd.unique(truth).tolist())
    if not present <= set(classes) or len(present) < len(classes):
        return None
    scores = np.asarray(proba, dtype=float)
    if len(classes) == 2:
        return _binary_auc(truth == classes[1], scores[:, 1])
    return float(
        np.mean([_binary_auc(truth == label, scores[:, i]) for i, label in enumerate(classes)])
    )


def _binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: P(score of a positive > of a negative), ties 1/2."""
    positives = int(np.count_nonzero(positive))
    negatives = len(positive) - positives
    ranks = _average_ranks(scores)
    rank_sum = float(np.sum(ranks[positive]))
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their average rank (as `scipy.stats.rankdata`)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.empty(len(values), dtype=bool)
    starts_group[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_group[1:])
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))
    ranks = np.empty(len(values), dtype=float)
    ranks[order] = ((starts + ends + 1) / 2)[np.cumsum(starts_group) - 1]
    return ranks


def evaluate(pipeline: Pipeline, dataset: Dataset, *, task: Task) -> dict[str, float]:
    """A fitted model's metrics on a dataset (e.g. a live model on fresh data).

    Parameters
    ----------
    pipeline:
        A fitted pipeline.
    dataset:
        Rows with the model's feature columns (more columns are ignored) and their target.
    task:
        The model's task.

    Returns
    -------
    The metrics of `compute_metrics`.

    Raises
    ------
    SchemaError
        The dataset lacks some feature of the model.
    """
    expected = [str(name) for name in getattr(pipeline, "feature_names_in_", [])]
    if expected:
        missing = [name for name in expected if name not in dataset.features.columns]
        if missing:
            raise SchemaError(f"missing features: {missing}", missing=missing)
        features = dataset.features[expected]
    else:
        features = dataset.features
    predictions, probabilities = predict_with_proba(pipeline, features)
    return compute_metrics(
        dataset.target,
        predictions,
        probabilities,
        task=task,
        classes=model_classes(pipeline) if task == "classification" else None,
    )


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate model passes its quality gate, and why.

    Attributes
    ----------
    passed:
        True when every check passed (also when there were none).
    reasons:
        One sentence per failed check, and notes such as "no live version to compare".
    checks:
        `{"metric", "kind", "threshold", "value", "live", "passed"}` per check; `kind` is
        `min`, `max` or `not_worse_than_live`; `live` is the live model's value (or None).
    """

    passed: bool
    reasons: list[str]
    checks: list[dict[str, Any]]


def gate(
    metrics: dict[str, float],
    *,
    minimums: dict[str, float] | None = None,
    maximums: dict[str, float] | None = None,
    max_drop: dict[str, float] | None = None,
    live_metrics: dict[str, float] | None = None,
) -> Verdict:
    """Check a candidate's metrics against thresholds and against the live model.

    Parameters
    ----------
    metrics:
        The candidate's metrics.
    minimums:
        Metric -> lowest acceptable value (`metric >= value`).
    maximums:
        Metric -> highest acceptable value (`metric <= value`), e.g. for rmse.
    max_drop:
        Metric -> how much worse than the live model the candidate may be, in the metric's
        units. "Worse" is lower, except for `LOWER_IS_BETTER` metrics where it is higher.
    live_metrics:
        The live model's metrics; None when no version is live, in which case `max_drop`
        checks pass with the note "no live version to compare".

    Returns
    -------
    The verdict. A threshold on a metric the candidate lacks (or that is not finite)
    fails; a `max_drop` metric the live model lacks passes with a note.

    Raises
    ------
    ValueError
        A threshold is not a finite number.
    """
    checks: list[dict[str, Any]] = []
    reasons: list[str] = []
    for kind, thresholds in (("min", minimums), ("max", maximums)):
        for metric, threshold in _checked_thresholds(thresholds, kind).items():
            value = _finite(metrics.get(metric))
            if value is None:
                passed = False
                reasons.append(f"{metric} was not computed (needs {_needs(kind, threshold)})")
            elif kind == "min":
                passed = value >= threshold - _TOLERANCE
                if not passed:
                    reasons.append(f"{metric} {value:.4g} is below the minimum {threshold:g}")
            else:
                passed = value <= threshold + _TOLERANCE
                if not passed:
                    reasons.append(f"{metric} {value:.4g} is above the maximum {threshold:g}")
            checks.append(_check(metric, kind, threshold, value, None, passed))
    drops = _checked_thresholds(max_drop, "max_drop")
    if drops and live_metrics is None:
        reasons.append("no live version to compare")
    for metric, allowed in drops.items():
        value = _finite(metrics.get(metric))
        live = None if live_metrics is None else _finite(live_metrics.get(metric))
        if value is None:
            passed = False
            reasons.append(f"{metric} was not computed (needs comparing with the live version)")
        elif live_metrics is None:
            passed = True
        elif live is None:
            passed = True
            reasons.append(f"the live version has no {metric} to compare")
        elif metric in LOWER_IS_BETTER:
            passed = value <= live + allowed + _TOLERANCE
            if not passed:
                reasons.append(
                    f"{metric} {value:.4g} is worse than the live {live:.4g} "
                    f"by {value - live:.4g} (allowed {allowed:g})"
                )
        else:
            passed = value >= live - allowed - _TOLERANCE
            if not passed:
                reasons.append(
                    f"{metric} {value:.4g} is worse than the live {live:.4g} "
                    f"by {live - value:.4g} (allowed {allowed:g})"
                )
        checks.append(_check(metric, "not_worse_than_live", allowed, value, live, passed))
    return Verdict(passed=all(check["passed"] for check in checks), reasons=reasons, checks=checks)


def _checked_thresholds(thresholds: dict[str, float] | None, kind: str) -> dict[str, float]:
    if not thresholds:
        return {}
    bad = [
        metric
        for metric, value in thresholds.items()
        if isinstance(value, bool) or _finite(value) is None
    ]
    if bad:
        raise ValueError(f"{kind} thresholds must be finite numbers: {bad}")
    return {metric: float(value) for metric, value in thresholds.items()}


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _needs(kind: str, threshold: float) -> str:
    return f">= {threshold:g}" if kind == "min" else f"<= {threshold:g}"


def _check(
    metric: str, kind: str, threshold: float, value: float | None, live: float | None, passed: bool
) -> dict[str, Any]:
    return {
        "metric": metric,
        "kind": kind,
        "threshold": threshold,
        "value": value,
        "live": live,
        "passed": passed,
    }


def predict(
    pipeline: Pipeline, features: pd.DataFrame
) -> tuple[list[Any], list[dict[str, float]] | None]:
    """Predictions for rows, as plain Python values ready for JSON.

    Parameters
    ----------
    pipeline:
        A fitted pipeline.
    features:
        Rows with the model's feature columns, e.g. from `records_to_frame`.

    Returns
    -------
    `(predictions, probabilities)`: one prediction per row (numpy scalars converted), and,
    when the model has `predict_proba`, one `{class label as text: probability}` per row;
    else None.
    """
    predictions, probabilities = predict_with_proba(pipeline, features)
    values = [plain(value) for value in np.asarray(predictions).tolist()]
    if probabilities is None:
        return values, None
    labels = [str(label) for label in model_classes(pipeline) or []]
    rows = [
        {label: float(p) for label, p in zip(labels, row, strict=True)}
        for row in np.asarray(probabilities).tolist()
    ]
    return values, rows
