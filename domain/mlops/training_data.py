"""Datasets for training: the scikit-learn bundled sets, or any frame with a target column."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import pandas as pd
from sklearn import datasets as sk_datasets

from domain.errors import DomainError

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = get_args(Task)

BUNDLED = ("iris", "breast_cancer", "wine", "digits", "diabetes")

_BUNDLED_LOADERS: dict[str, tuple[Callable[..., Any], Task]] = {
    "iris": (sk_datasets.load_iris, "classification"),
    "breast_cancer": (sk_datasets.load_breast_cancer, "classification"),
    "wine": (sk_datasets.load_wine, "classification"),
    "digits": (sk_datasets.load_digits, "classification"),
    "diabetes": (sk_datasets.load_diabetes, "regression"),
}

# A numeric target counts as class labels when it holds whole numbers only and few of them:
# two distinct values, or at most this many and at most this share of the rows.
MAX_INFERRED_CLASSES = 20
MAX_INFERRED_CLASS_SHARE = 0.05


class DatasetError(DomainError):
    """The data can't be used for training; the message says why, in plain words."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features and target of one dataset, with what the target is and a content hash.

    Attributes
    ----------
    name:
        A label for reports (a bundled set's name, a file name, ...).
    features:
        One column per feature, named by strings.
    target:
        One value per row of `features`, none missing.
    task:
        `classification` or `regression`.
    fingerprint:
        sha256 hex of the features and target as loaded (see `fingerprint`).
    """

    name: str
    features: pd.DataFrame
    target: pd.Series
    task: Task
    fingerprint: str


def load_bundled(name: str) -> Dataset:
    """A dataset shipped with scikit-learn (no download).

    Parameters
    ----------
    name:
        One of `BUNDLED`: `iris`, `breast_cancer`, `wine`, `digits` (classification) or
        `diabetes` (regression).

    Returns
    -------
    The dataset, its task and its fingerprint.

    Raises
    ------
    DatasetError
        The name is not a bundled set.
    """
    if name not in _BUNDLED_LOADERS:
        raise DatasetError(f"unknown bundled dataset {name!r}; known: {list(BUNDLED)}")
    loader, task = _BUNDLED_LOADERS[name]
    bunch = loader(as_frame=True)
    features = cast(pd.DataFrame, bunch.data)
    target = cast(pd.Series, bunch.target)
    features.columns = [str(column) for column in features.columns]
    return Dataset(
        name=name,
        features=features,
        target=target,
        task=task,
        fingerprint=fingerprint(features, target),
    )


def from_frame(frame: pd.DataFrame, target: str, *, name: str, task: Task | None = None) -> Dataset:
    """A dataset from a table: one column is the target, every other one a feature.

    Parameters
    ----------
    frame:
        The table, e.g. a parsed CSV upload. It is not modified.
    target:
        Name of the column to predict.
    name:
        A label for reports.
    task:
        `classification` or `regression`; None infers it from the target: non-numeric (or
        boolean) values, or whole numbers with few distinct values (2, or at most
        `MAX_INFERRED_CLASSES` and at most `MAX_INFERRED_CLASS_SHARE` of the rows), are
        class labels; any other numbers are a regression target.

    Returns
    -------
    The dataset, with feature columns named by strings and its fingerprint.

    Raises
    ------
    DatasetError
        The target column is missing, the table has no rows or no feature columns, has
        duplicate column names, some rows have no target value (nothing is dropped
        silently), the task is unknown, or a regression target is not numeric.
    """
    columns = [str(column) for column in frame.columns]
    if len(set(columns)) != len(columns):
        duplicates = sorted({column for column in columns if columns.count(column) > 1})
        raise DatasetError(f"duplicate column names: {duplicates}")
    if target not in columns:
        raise DatasetError(f"target column {target!r} not found; columns: {columns}")
    if len(frame) == 0:
        raise DatasetError("the table has no rows")
    if len(columns) < 2:
        raise DatasetError(f"the table has no feature columns besides the target {target!r}")
    renamed = frame.set_axis(columns, axis=1)
    labels = renamed[target]
    missing = int(labels.isna().sum())
    if missing:
        raise DatasetError(
            f"{missing} of {len(labels)} rows have no value in the target column {target!r}; "
            "fill or remove them first"
        )
    if task is None:
        task = infer_task(labels)
    elif task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; known: {list(TASKS)}")
    if task == "regression" and not _is_number_series(labels):
        raise DatasetError(
            f"a regression target must be numeric; {target!r} has dtype {labels.dtype}"
        )
    features = renamed.drop(columns=[target]).reset_index(drop=True)
    labels = labels.reset_index(drop=True)
    return Dataset(
        name=name,
        features=features,
        target=labels,
        task=task,
        fingerprint=fingerprint(features, labels),
    )


def infer_task(target: pd.Series) -> Task:
    """Whether a target column holds class labels or quantities.

    Parameters
    ----------
    target:
        The target values, without missing values.

    Returns
    -------
    `classification` for non-numeric or boolean values and for whole numbers with few
    distinct values (see `from_frame`); `regression` otherwise.
    """
    if not _is_number_series(target):
        return "classification"
    values = pd.to_numeric(target)
    distinct = int(values.nunique())
    whole = bool(((values % 1) == 0).all())
    few = distinct <= 2 or (
        distinct <= MAX_INFERRED_CLASSES and distinct <= MAX_INFERRED_CLASS_SHARE * len(values)
    )
    return "classification" if whole and few else "regression"


def fingerprint(features: pd.DataFrame, target: pd.Series | None = None) -> str:
    """sha256 of the data's values and column names, independent of memory layout.

    Parameters
    ----------
    features:
        The feature table; its row index is ignored.
    target:
        The target values, if any; its index is ignored, its name is part of the hash.

    Returns
    -------
    The hex digest. The same values under the same names give the same digest whatever
    the row index, array order or copy; any changed value, name or column order changes it.

    Raises
    ------
    DatasetError
        A column holds values that can't be hashed (lists, dicts, ...).
    """
    digest = hashlib.sha256()
    digest.update(b"features\x1e")
    digest.update("\x1f".join(map(str, features.columns)).encode())
    digest.update(_hash_values(features))
    if target is not None:
        digest.update(b"\x1etarget\x1e")
        digest.update(str(target.name).encode())
        digest.update(_hash_values(target))
    return digest.hexdigest()


def _hash_values(data: pd.DataFrame | pd.Series) -> bytes:
    try:
        return pd.util.hash_pandas_object(data, index=False).to_numpy().tobytes()
    except TypeError as exc:
        raise DatasetError(f"the data holds values that can't be hashed: {exc}") from exc


def _is_number_series(values: pd.Series) -> bool:
    return bool(
        pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values)
    )
