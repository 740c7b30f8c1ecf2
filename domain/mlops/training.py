"""Training a model on a dataset: preprocessing pipeline, split, optional cross-validation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from domain.mlops.estimators import build_estimator, default_estimator, effective_params
from domain.mlops.evaluation import compute_metrics, model_classes, predict_with_proba
from domain.mlops.schema import CATEGORICAL, NUMERIC, feature_schema
from domain.mlops.training_data import Dataset, DatasetError, Task

# A categorical feature keeps its most frequent categories; rarer ones share one column.
MAX_CATEGORIES = 100


class TrainingError(DatasetError):
    """Training can't run with these settings on this data (a `DatasetError`, so callers
    handling bad data handle it too); the message says why."""


@dataclass(frozen=True)
class TrainedModel:
    """A fitted pipeline and what is known about it.

    Attributes
    ----------
    pipeline:
        Preprocessing and estimator, fitted on the training split.
    task:
        `classification` or `regression`.
    estimator:
        The estimator's short name.
    params:
        The parameters it was built with (our defaults plus the job's), without
        `random_state`.
    metrics:
        Held-out metrics on the test split; the cross-validation means when `test_size`
        is 0; empty when neither was asked for.
    cv:
        Per metric `{"mean", "std"}` over the folds, when `cv_folds >= 2`.
    feature_schema:
        The features the model expects (`schema.feature_schema`).
    classes:
        Class labels (classification), as plain values.
    train_rows, test_rows:
        Rows in each split.
    fit_seconds:
        Wall time of the final `pipeline.fit` only.
    """

    pipeline: Pipeline
    task: Task
    estimator: str
    params: dict[str, Any]
    metrics: dict[str, float]
    cv: dict[str, dict[str, float]] | None
    feature_schema: list[dict[str, str]]
    classes: list[Any] | None
    train_rows: int
    test_rows: int
    fit_seconds: float


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical values as text, missing ones as NaN, so mixed types encode consistently.

    Parameters
    ----------
    frame:
        The categorical columns.

    Returns
    -------
    The same columns of object dtype holding `str(value)`, or NaN where a value is missing.
    """
    frame = pd.DataFrame(frame)
    return frame.astype(str).astype(object).where(frame.notna(), np.nan)


def build_pipeline(features: pd.DataFrame, estimator: BaseEstimator) -> Pipeline:
    """Preprocessing suited to the feature columns, then the estimator (not fitted).

    Parameters
    ----------
    features:
        The training features; only their columns and dtypes are looked at.
    estimator:
        An unfitted estimator.

    Returns
    -------
    A pipeline: numeric columns -> median imputation + standard scaling; other columns
    -> text, most frequent imputation + one-hot encoding (unknown categories at predict
    time encode as all zeros, at most `MAX_CATEGORIES` columns per feature); then the
    estimator.

    Raises
    ------
    DatasetError
        There are no feature columns.
    """
    schema = feature_schema(features)
    if not schema:
        raise DatasetError("there are no feature columns")
    numeric = [entry["name"] for entry in schema if entry["type"] == NUMERIC]
    categorical = [entry["name"] for entry in schema if entry["type"] == CATEGORICAL]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        ("text", FunctionTransformer(as_text, feature_names_out="one-to-one")),
                        (
                            "impute",
                            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                        ),
                        (
                            "encode",
                            OneHotEncoder(
                                handle_unknown="ignore",
                                max_categories=MAX_CATEGORIES,
                                sparse_output=False,
                            ),
                        ),
                    ]
                ),
                categorical,
            )
        )
    return Pipeline(
        [
            ("preprocess", ColumnTransformer(transformers, remainder="drop")),
            ("model", estimator),
        ]
    )


def train(
    dataset: Dataset,
    *,
    estimator: str | None = None,
    params: dict[str, Any] | None = None,
    test_size: float = 0.25,
    cv_folds: int = 0,
    random_state: int = 0,
    progress: Callable[[float, str], None] | None = None,
) -> TrainedModel:
    """Fit a model on a dataset and measure it on rows it has not seen.

    Parameters
    ----------
    dataset:
        Features and target.
    estimator:
        A name from `estimators.ESTIMATORS`; None picks `default_estimator(dataset.task)`.
    params:
        The estimator's parameters (checked by `estimators.check_estimator`).
    test_size:
        Share of rows held out for the metrics, in [0, 1); the split is stratified by class
        for classification. 0 trains on every row.
    cv_folds:
        With 2 or more, k-fold cross-validation on the training split first (stratified
        for classification, shuffled with `random_state`); 0 or 1 skips it.
    random_state:
        Seed of the split, the folds and the estimator: the same inputs give the same model.
    progress:
        Called with (fraction done, what) after each fold (`"fold i/k"`) and at the end.

    Returns
    -------
    The fitted model with its metrics.

    Raises
    ------
    TrainingError
        `test_size` or `cv_folds` out of range, or too few rows (per class) for them.
    DatasetError
        A classification target with a single class, or no feature columns.
    EstimatorError
        An unknown estimator, one that doesn't do the dataset's task, or bad parameters.
    """
    task = dataset.task
    name = estimator if estimator is not None else default_estimator(task)
    effective = effective_params(name, params or {}, task=task)
    if not 0 <= test_size < 1:
        raise TrainingError(f"test_size must be in [0, 1), got {test_size}")
    if cv_folds < 0:
        raise TrainingError(f"cv_folds must be 0 (none) or at least 2, got {cv_folds}")
    features, target = dataset.features, dataset.target
    if len(features) != len(target):
        raise DatasetError(f"{len(features)} feature rows but {len(target)} target values")
    if task == "classification":
        _check_classes(target, test_size)
    x_train, x_test, y_train, y_test = _split(features, target, task, test_size, random_state)
    _check_folds(y_train, task, cv_folds)

    def make_pipeline() -> Pipeline:
        model = build_estimator(name, effective, task=task, random_state=random_state)
        return build_pipeline(features, model)

    cv = None
    if cv_folds >= 2:
        cv = _cross_validate(
            make_pipeline(), x_train, y_train, task, cv_folds, random_state, progress
        )

    pipeline = make_pipeline()
    started = time.perf_counter()
    pipeline.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - started

    classes = model_classes(pipeline) if task == "classification" else None
    if len(x_test):
        predictions, probabilities = predict_with_proba(pipeline, x_test)
        metrics = compute_metrics(y_test, predictions, probabilities, task=task, classes=classes)
    elif cv is not None:
        metrics = {metric: summary["mean"] for metric, summary in cv.items()}
    else:
        metrics = {}
    if progress is not None:
        progress(1.0, "fitted")
    return TrainedModel(
        pipeline=pipeline,
        task=task,
        estimator=name,
        params=effective,
        metrics=metrics,
        cv=cv,
        feature_schema=feature_schema(features),
        classes=classes,
        train_rows=len(x_train),
        test_rows=len(x_test),
        fit_seconds=fit_seconds,
    )


def _check_classes(target: pd.Series, test_size: float) -> None:
    counts = target.value_counts()
    if len(counts) < 2:
        raise DatasetError(
            f"the target has a single class ({counts.index[0]!r}); classification needs two"
        )
    if test_size > 0:
        rare = {str(label): int(count) for label, count in counts.items() if count < 2}
        if rare:
            raise TrainingError(
                "a stratified test split needs at least 2 rows per class; "
                f"classes with fewer: {rare} (remove them, or use test_size 0 with cv_folds)"
            )


def _check_folds(target: pd.Series, task: Task, cv_folds: int) -> None:
    if cv_folds < 2:
        return
    if len(target) < cv_folds:
        raise TrainingError(f"{len(target)} training rows are too few for {cv_folds} folds")
    if task == "classification":
        counts = target.value_counts()
        rare = {str(label): int(count) for label, count in counts.items() if count < cv_folds}
        if rare:
            raise TrainingError(
                f"{cv_folds} stratified folds need at least {cv_folds} training rows per "
                f"class; classes with fewer: {rare}"
            )


def _split(
    features: pd.DataFrame, target: pd.Series, task: Task, test_size: float, random_state: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    if test_size == 0:
        return features, features.iloc[:0], target, target.iloc[:0]
    # Splitting row numbers gives the same rows as splitting the frames, with less copying.
    try:
        train_rows, test_rows = train_test_split(
            np.arange(len(target)),
            test_size=test_size,
            random_state=random_state,
            # Class codes in sorted label order: the split np.unique on the labels would give,
            # without sorting strings.
            stratify=pd.factorize(target, sort=True)[0] if task == "classification" else None,
        )
    except ValueError as exc:
        raise TrainingError(f"can't split the data: {exc}") from exc
    return (
        features.iloc[train_rows],
        features.iloc[test_rows],
        target.iloc[train_rows],
        target.iloc[test_rows],
    )


def _cross_validate(
    template: Pipeline,
    features: pd.DataFrame,
    target: pd.Series,
    task: Task,
    folds: int,
    random_state: int,
    progress: Callable[[float, str], None] | None,
) -> dict[str, dict[str, float]]:
    splitter: StratifiedKFold | KFold = (
        StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
        if task == "classification"
        else KFold(n_splits=folds, shuffle=True, random_state=random_state)
    )
    scores: dict[str, list[float]] = {}
    for index, (train_rows, test_rows) in enumerate(splitter.split(features, target), start=1):
        pipeline = clone(template)
        pipeline.fit(features.iloc[train_rows], target.iloc[train_rows])
        held_out = features.iloc[test_rows]
        predictions, probabilities = predict_with_proba(pipeline, held_out)
        fold_metrics = compute_metrics(
            target.iloc[test_rows],
            predictions,
            probabilities,
            task=task,
            classes=model_classes(pipeline) if task == "classification" else None,
        )
        for metric, value in fold_metrics.items():
            scores.setdefault(metric, []).append(value)
        if progress is not None:
            progress(index / (folds + 1), f"fold {index}/{folds}")
    # A metric some fold could not compute (e.g. roc_auc with a class absent) is averaged
    # over the folds that did.
    return {
        metric: {"mean": float(np.mean(values)), "std": float(np.std(values))}
        for metric, values in scores.items()
    }
