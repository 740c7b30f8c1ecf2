from __future__ import annotations

from typing import Any

import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression

from domain.mlops.estimators import (
    ESTIMATORS,
    EstimatorError,
    build_estimator,
    check_estimator,
    default_estimator,
    effective_params,
)


def problems_of(name: str, params: dict[str, Any], task: Any = None) -> list[dict[str, str]]:
    with pytest.raises(EstimatorError) as caught:
        check_estimator(name, params, task)
    return caught.value.problems


def test_the_allow_list_covers_both_tasks_with_sensible_names() -> None:
    for name in ("logistic_regression", "random_forest", "gradient_boosting", "knn"):
        assert "classification" in ESTIMATORS[name].tasks
    for name in ("random_forest", "hist_gradient_boosting", "linear_regression", "ridge"):
        assert "regression" in ESTIMATORS[name].tasks
    for task in ("classification", "regression"):
        assert task in ESTIMATORS[default_estimator(task)].tasks  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["svm_classifier", "sklearn.svm.SVC", "os.system", "RandomForestClassifier", ""]
)
def test_an_unknown_name_is_refused_listing_the_known_ones(name: str) -> None:
    [problem] = problems_of(name, {})
    assert problem["field"] == "estimator"
    assert f"unknown estimator {name!r}" in problem["message"]
    assert "random_forest" in problem["message"]


def test_an_estimator_of_another_task_is_refused_naming_those_that_fit() -> None:
    [problem] = problems_of("logistic_regression", {}, "regression")
    assert problem["field"] == "estimator"
    assert "does not do regression" in problem["message"]
    assert "ridge" in problem["message"]


def test_an_unknown_parameter_is_named_with_the_known_ones() -> None:
    [problem] = problems_of("random_forest", {"max_depht": 3})
    assert problem["field"] == "params.max_depht"
    assert "unknown parameter 'max_depht'" in problem["message"]
    assert "max_depth" in problem["message"]


def test_every_bad_parameter_is_reported_at_once() -> None:
    problems = problems_of(
        "random_forest", {"n_estimators": "ten", "bootstrap": 1, "max_depht": 3}, "classification"
    )
    assert [problem["field"] for problem in problems] == [
        "params.n_estimators",
        "params.bootstrap",
        "params.max_depht",
    ]
    assert problems[0]["message"] == "expected int, got 'ten'"
    assert problems[1]["message"] == "expected bool, got 1"


@pytest.mark.parametrize(
    ("name", "params", "field", "fragment"),
    [
        ("random_forest", {"n_estimators": 0}, "params.n_estimators", "range [1, inf)"),
        ("random_forest", {"n_estimators": True}, "params.n_estimators", "expected int"),
        ("random_forest", {"n_estimators": 10.0}, "params.n_estimators", "expected int"),
        ("logistic_regression", {"C": "big"}, "params.C", "expected float"),
        ("logistic_regression", {"solver": 3}, "params.solver", "expected str"),
        ("knn", {"weights": "heaviest"}, "params.weights", "'uniform'"),
        ("random_forest", {"random_state": 1}, "params.random_state", "job's random_state"),
        ("random_forest", {"n_jobs": -1}, "params.n_jobs", "worker pool"),
        ("ridge", {"alpha": float("nan")}, "params.alpha", "JSON value"),
        ("ridge", {"alpha": print}, "params.alpha", "JSON value"),
    ],
    ids=[
        "out-of-range",
        "bool-for-int",
        "float-for-int",
        "text-for-float",
        "number-for-text",
        "unknown-choice",
        "random-state-reserved",
        "n-jobs-reserved",
        "not-finite",
        "not-json",
    ],
)
def test_a_bad_parameter_value_is_refused(
    name: str, params: dict[str, Any], field: str, fragment: str
) -> None:
    [problem] = problems_of(name, params)
    assert problem["field"] == field
    assert fragment in problem["message"]


@pytest.mark.parametrize(
    ("name", "params", "task"),
    [
        ("random_forest", {"n_estimators": 50, "max_depth": None}, "classification"),
        ("random_forest", {"min_samples_split": 0.1, "max_features": "sqrt"}, None),
        ("random_forest", {"criterion": "gini"}, None),
        ("logistic_regression", {"C": 1, "max_iter": 200}, "classification"),
        ("hist_gradient_boosting", {"early_stopping": True, "max_iter": 50}, "regression"),
        ("ridge", {"alpha": 0.5}, "regression"),
        ("knn", {"n_neighbors": 3, "weights": "distance"}, None),
    ],
)
def test_good_parameters_are_returned_as_given(
    name: str, params: dict[str, Any], task: Any
) -> None:
    assert check_estimator(name, params, task) == params


def test_a_parameter_of_the_other_tasks_class_is_refused_once_the_task_is_known() -> None:
    assert check_estimator("random_forest", {"criterion": "gini"}) == {"criterion": "gini"}
    [problem] = problems_of("random_forest", {"criterion": "gini"}, "regression")
    assert problem["field"] == "params.criterion"


def test_params_must_be_a_mapping() -> None:
    [problem] = problems_of("ridge", ["alpha", 1])  # type: ignore[arg-type]
    assert problem["field"] == "params"


def test_the_task_picks_the_class_and_the_seed_is_set() -> None:
    classifier = build_estimator(
        "random_forest", {"n_estimators": 7}, task="classification", random_state=4
    )
    regressor = build_estimator("random_forest", {}, task="regression", random_state=4)
    assert isinstance(classifier, RandomForestClassifier)
    assert isinstance(regressor, RandomForestRegressor)
    assert classifier.get_params()["n_estimators"] == 7
    assert classifier.get_params()["random_state"] == 4
    assert isinstance(
        build_estimator("linear_regression", {}, task="regression", random_state=4),
        LinearRegression,
    )


def test_our_defaults_apply_unless_the_job_overrides_them() -> None:
    model = build_estimator("logistic_regression", {}, task="classification", random_state=0)
    assert isinstance(model, LogisticRegression)
    assert model.get_params()["max_iter"] == 1000
    assert effective_params("logistic_regression", {"max_iter": 50}, task="classification") == {
        "max_iter": 50
    }


def test_building_checks_the_parameters_too() -> None:
    with pytest.raises(EstimatorError, match=r"params\.n_estimators: expected int"):
        build_estimator(
            "random_forest", {"n_estimators": "ten"}, task="classification", random_state=0
        )
