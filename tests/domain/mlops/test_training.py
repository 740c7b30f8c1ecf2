from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from domain.mlops.estimators import EstimatorError
from domain.mlops.evaluation import predict
from domain.mlops.schema import records_to_frame
from domain.mlops.training import TrainingError, build_pipeline, train
from domain.mlops.training_data import (
    BUNDLED,
    DatasetError,
    fingerprint,
    from_frame,
    infer_task,
    load_bundled,
)

FAST_FOREST = {"n_estimators": 10}


def mixed_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Numeric and text features with holes; the label follows `size` and `colour`."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=rows),
            "weight": rng.normal(size=rows),
            "colour": rng.choice(["red", "green", "blue"], size=rows),
            "shipped": rng.choice([True, False], size=rows),
        }
    )
    frame["label"] = np.where(
        frame["size"] + (frame["colour"] == "red") * 1.5 > 0.5, "big", "small"
    )
    frame.loc[::9, "size"] = np.nan
    frame.loc[::11, "colour"] = None
    return frame


@pytest.mark.parametrize(
    ("name", "task"),
    [
        ("iris", "classification"),
        ("breast_cancer", "classification"),
        ("wine", "classification"),
        ("digits", "classification"),
        ("diabetes", "regression"),
    ],
)
def test_every_bundled_set_loads_with_its_task(name: str, task: str) -> None:
    dataset = load_bundled(name)
    assert dataset.name == name
    assert dataset.task == task
    assert len(dataset.features) == len(dataset.target) > 100
    assert all(isinstance(column, str) for column in dataset.features.columns)
    assert len(dataset.fingerprint) == 64
    assert name in BUNDLED


def test_an_unknown_bundled_set_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(DatasetError, match=r"unknown bundled dataset 'titanic'.*iris"):
        load_bundled("titanic")


def test_the_fingerprint_depends_on_values_and_names_but_not_on_memory_layout() -> None:
    values = np.arange(12, dtype=float).reshape(4, 3)
    c_order = pd.DataFrame(np.ascontiguousarray(values), columns=["a", "b", "c"])
    f_order = pd.DataFrame(np.asfortranarray(values), columns=["a", "b", "c"], index=[9, 8, 7, 6])
    target = pd.Series([0, 1, 0, 1], name="y")
    assert fingerprint(c_order, target) == fingerprint(f_order, target)
    assert fingerprint(c_order) != fingerprint(c_order, target)
    assert fingerprint(c_order) != fingerprint(c_order.rename(columns={"a": "z"}))
    changed = c_order.copy()
    changed.iloc[0, 0] = -1.0
    assert fingerprint(changed) != fingerprint(c_order)
    assert load_bundled("iris").fingerprint != load_bundled("wine").fingerprint


def test_a_frame_becomes_a_dataset_without_its_target_column() -> None:
    dataset = from_frame(mixed_frame(), "label", name="shop.csv")
    assert dataset.task == "classification"
    assert "label" not in dataset.features.columns
    assert list(dataset.features.columns) == ["size", "weight", "colour", "shipped"]
    assert dataset.fingerprint == from_frame(mixed_frame(), "label", name="other").fingerprint


def test_a_missing_target_column_is_named_with_the_columns_there_are() -> None:
    with pytest.raises(DatasetError, match=r"target column 'price' not found; columns: \['a'"):
        from_frame(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), "price", name="x")


def test_rows_without_a_target_are_counted_not_dropped() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [1.0, None, 0.0, None]})
    with pytest.raises(DatasetError, match="2 of 4 rows have no value in the target column 'y'"):
        from_frame(frame, "y", name="x")


def test_an_empty_table_or_one_without_features_is_refused() -> None:
    with pytest.raises(DatasetError, match="no rows"):
        from_frame(pd.DataFrame({"a": [], "y": []}), "y", name="x")
    with pytest.raises(DatasetError, match="no feature columns"):
        from_frame(pd.DataFrame({"y": [1, 2]}), "y", name="x")


def test_a_regression_target_must_be_numeric_and_a_task_must_be_known() -> None:
    frame = pd.DataFrame({"a": [1, 2], "y": ["x", "z"]})
    with pytest.raises(DatasetError, match="regression target must be numeric"):
        from_frame(frame, "y", name="x", task="regression")
    with pytest.raises(DatasetError, match="unknown task 'ranking'"):
        from_frame(frame, "y", name="x", task="ranking")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a", "c"] * 10, "classification"),
        ([True, False] * 20, "classification"),
        ([0, 1] * 5, "classification"),
        (list(range(5)) * 40, "classification"),
        (list(range(30)) * 40, "regression"),
        (list(range(10)) * 4, "regression"),
        ([0.5, 1.5] * 20 + [2.25], "regression"),
        (np.linspace(0, 1, 200).tolist(), "regression"),
    ],
    ids=[
        "text",
        "booleans",
        "two-integers-in-few-rows",
        "five-integers-in-200-rows",
        "thirty-integers",
        "ten-integers-in-40-rows",
        "fractions",
        "continuous",
    ],
)
def test_the_task_is_inferred_from_the_target(values: list[object], task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def test_a_pipeline_handles_mixed_features_with_holes_and_unseen_categories() -> None:
    dataset = from_frame(mixed_frame(), "label", name="shop")
    trained = train(dataset, estimator="logistic_regression", random_state=1)
    assert trained.metrics["accuracy"] > 0.8
    assert [entry["type"] for entry in trained.feature_schema] == [
        "numeric",
        "numeric",
        "categorical",
        "categorical",
    ]
    records = [
        {"size": 2.0, "weight": None, "colour": "purple", "shipped": True},
        {"size": None, "weight": 0.1, "colour": None, "shipped": False},
    ]
    predictions, probabilities = predict(
        trained.pipeline, records_to_frame(records, trained.feature_schema)
    )
    assert predictions[0] == "big"
    assert all(label in {"big", "small"} for label in predictions)
    assert probabilities is not None
    assert set(probabilities[0]) == {"big", "small"}
    assert sum(probabilities[1].values()) == pytest.approx(1.0)


def test_a_fitted_pipeline_survives_joblib() -> None:
    trained = train(from_frame(mixed_frame(), "label", name="shop"), estimator="knn")
    buffer = io.BytesIO()
    joblib.dump(trained.pipeline, buffer)
    restored = joblib.load(io.BytesIO(buffer.getvalue()))
    sample = mixed_frame(seed=5).drop(columns=["label"]).head(30)
    assert restored.predict(sample).tolist() == trained.pipeline.predict(sample).tolist()


def test_an_all_empty_numeric_column_does_not_change_the_feature_count() -> None:
    frame = mixed_frame()
    frame["weight"] = np.nan
    pipeline = build_pipeline(frame.drop(columns=["label"]), DecisionTreeClassifier(random_state=0))
    pipeline.fit(frame.drop(columns=["label"]), frame["label"])
    assert pipeline[:-1].transform(frame.drop(columns=["label"]).head(3)).shape[1] == 2 + 3 + 2


def test_cross_validation_reports_progress_per_fold_and_summaries() -> None:
    calls: list[tuple[float, str]] = []
    trained = train(
        load_bundled("iris"),
        estimator="random_forest",
        params=FAST_FOREST,
        cv_folds=3,
        progress=lambda fraction, message: calls.append((fraction, message)),
    )
    assert [message for _, message in calls] == ["fold 1/3", "fold 2/3", "fold 3/3", "fitted"]
    fractions = [fraction for fraction, _ in calls]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert trained.cv is not None
    assert set(trained.cv) == {"accuracy", "f1", "roc_auc"}
    assert 0.8 < trained.cv["accuracy"]["mean"] <= 1.0
    assert trained.cv["accuracy"]["std"] >= 0.0
    assert trained.train_rows + trained.test_rows == 150


def test_with_no_test_split_the_metrics_are_the_cross_validation_means() -> None:
    trained = train(load_bundled("wine"), estimator="logistic_regression", test_size=0, cv_folds=3)
    assert trained.test_rows == 0
    assert trained.train_rows == 178
    assert trained.cv is not None
    assert trained.metrics == {metric: summary["mean"] for metric, summary in trained.cv.items()}


def test_the_same_inputs_give_identical_predictions_and_fingerprint() -> None:
    first_data, second_data = load_bundled("wine"), load_bundled("wine")
    first = train(first_data, estimator="random_forest", params=FAST_FOREST, random_state=3)
    second = train(second_data, estimator="random_forest", params=FAST_FOREST, random_state=3)
    assert first_data.fingerprint == second_data.fingerprint
    assert first.metrics == second.metrics
    sample = first_data.features
    assert np.array_equal(first.pipeline.predict(sample), second.pipeline.predict(sample))
    assert np.array_equal(
        first.pipeline.predict_proba(sample), second.pipeline.predict_proba(sample)
    )


def test_a_different_seed_gives_a_different_split() -> None:
    data = load_bundled("wine")
    first = train(data, estimator="logistic_regression", random_state=0)
    second = train(data, estimator="logistic_regression", random_state=1)
    assert first.metrics != second.metrics


def test_a_model_records_what_it_was_trained_with() -> None:
    trained = train(load_bundled("breast_cancer"), estimator="logistic_regression")
    assert trained.task == "classification"
    assert trained.estimator == "logistic_regression"
    assert trained.params == {"max_iter": 1000}
    assert trained.classes == [0, 1]
    assert all(type(label) is int for label in trained.classes)
    assert trained.train_rows + trained.test_rows == 569
    assert trained.test_rows == 143
    assert trained.metrics["accuracy"] > 0.9
    assert 0.9 < trained.metrics["roc_auc"] <= 1.0
    assert 0 < trained.fit_seconds < 10


def test_regression_on_diabetes_reports_error_metrics() -> None:
    trained = train(load_bundled("diabetes"), estimator="ridge")
    assert trained.classes is None
    assert set(trained.metrics) == {"rmse", "mae", "r2"}
    assert 40 < trained.metrics["rmse"] < 70
    assert 0 < trained.metrics["mae"] < trained.metrics["rmse"]
    assert 0.2 < trained.metrics["r2"] < 0.7


def test_the_default_estimator_is_used_when_none_is_named() -> None:
    trained = train(load_bundled("diabetes"), params={"n_estimators": 10})
    assert trained.estimator == "random_forest"


def test_an_estimator_for_another_task_is_refused() -> None:
    with pytest.raises(EstimatorError, match="linear_regression does not do classification"):
        train(load_bundled("iris"), estimator="linear_regression")


def test_bad_split_settings_and_too_rare_classes_are_refused() -> None:
    iris = load_bundled("iris")
    with pytest.raises(TrainingError, match=r"test_size must be in \[0, 1\)"):
        train(iris, test_size=1.0)
    with pytest.raises(TrainingError, match="cv_folds"):
        train(iris, cv_folds=-1)
    frame = pd.DataFrame({"a": range(20), "y": ["a"] * 19 + ["b"]})
    lonely = from_frame(frame, "y", name="x")
    with pytest.raises(TrainingError, match=r"at least 2 rows per class.*'b': 1"):
        train(lonely, estimator="logistic_regression")
    with pytest.raises(TrainingError, match=r"5 stratified folds.*'b'"):
        train(lonely, estimator="logistic_regression", test_size=0, cv_folds=5)


def test_a_single_class_target_is_refused() -> None:
    single = from_frame(pd.DataFrame({"a": range(10), "y": ["a"] * 10}), "y", name="x")
    with pytest.raises(DatasetError, match="single class"):
        train(single)
