"""Training a scikit-learn classifier on a bundled dataset, with a held-out evaluation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.base import ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

BUNDLED_LOADERS = {
    "iris": datasets.load_iris,
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "digits": datasets.load_digits,
}

ESTIMATORS: dict[str, Any] = {
    "logistic_regression": lambda seed: LogisticRegression(max_iter=2000, random_state=seed),
    "random_forest": lambda seed: RandomForestClassifier(n_estimators=100, random_state=seed),
    "gradient_boosting": lambda seed: GradientBoostingClassifier(random_state=seed),
}


@dataclass(frozen=True)
class Dataset:
    features: pd.DataFrame
    target: pd.Series
    fingerprint: str


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    metrics: dict[str, float]
    feature_names: list[str]
    classes: list[Any]
    train_rows: int
    test_rows: int


def load_bundled(name: str) -> Dataset:
    """A scikit-learn bundled dataset (shipped with the library; no download).

    Parameters
    ----------
    name:
        One of `iris`, `breast_cancer`, `wine`, `digits`.

    Returns
    -------
    Features (one column per feature), target, and the sha256 of the data as loaded.
    """
    if name not in BUNDLED_LOADERS:
        raise ValueError(f"unknown bundled dataset {name!r}; known: {sorted(BUNDLED_LOADERS)}")
    bunch = BUNDLED_LOADERS[name](as_frame=True)
    features = bunch.data
    target = bunch.target
    return Dataset(features=features, target=target, fingerprint=fingerprint(features, target))


def fingerprint(features: pd.DataFrame, target: pd.Series) -> str:
    """sha256 of the data's values and column names, independent of memory layout."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, features.columns)).encode())
    digest.update(pd.util.hash_pandas_object(features, index=False).to_numpy().tobytes())
    digest.update(pd.util.hash_pandas_object(target, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def train_classifier(
    data: Dataset, *, estimator: str, test_size: float, random_state: int
) -> TrainedModel:
    """Fit scaler + estimator on a stratified split; score on the held-out part.

    Parameters
    ----------
    data:
        Features and target.
    estimator:
        A name from `ESTIMATORS`.
    test_size:
        Share of rows held out for the metrics, in (0, 1).
    random_state:
        Seed of the split and the estimator: same seed, same model.

    Returns
    -------
    The fitted pipeline and its held-out metrics: accuracy, macro F1, and ROC AUC
    (one-vs-rest for more than two classes).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; known: {sorted(ESTIMATORS)}")
    x_train, x_test, y_train, y_test = train_test_split(
        data.features,
        data.target,
        test_size=test_size,
        random_state=random_state,
        stratify=data.target,
    )
    model: ClassifierMixin = ESTIMATORS[estimator](random_state)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", model)])
    pipeline.fit(x_train, y_train)
    predicted = pipeline.predict(x_test)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro")),
    }
    probabilities = pipeline.predict_proba(x_test)
    classes = list(pipeline.classes_)
    if len(classes) == 2:
        metrics["roc_auc"] = float(roc_auc_score(y_test, probabilities[:, 1]))
    else:
        metrics["roc_auc"] = float(roc_auc_score(y_test, probabilities, multi_class="ovr"))
    return TrainedModel(
        pipeline=pipeline,
        metrics=metrics,
        feature_names=[str(c) for c in data.features.columns],
        classes=[c.item() if isinstance(c, np.generic) else c for c in classes],
        train_rows=len(x_train),
        test_rows=len(x_test),
    )
