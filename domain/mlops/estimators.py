"""The estimators a training job may use: an allow-list by short name, and their parameters.

A job names an estimator (`random_forest`) and gives parameters as JSON values. Only the
classes listed in `ESTIMATORS` are ever built: a name is looked up, never imported.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
)
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from domain.errors import DomainError
from domain.mlops.training_data import TASKS, Task

# Set by the job itself (its random_state) or by the worker pool (parallelism), not by params.
RESERVED_PARAMS = {
    "random_state": "set from the job's random_state",
    "n_jobs": "parallelism is set by the worker pool",
}

_MAX_SHOWN_VALUE = 60


@dataclass(frozen=True)
class EstimatorSpec:
    """One allowed estimator: its scikit-learn class per task and our defaults.

    Attributes
    ----------
    name:
        The short name jobs use.
    classes:
        The scikit-learn class for each task it supports.
    defaults:
        Parameters we set unless the job sets them, per task (e.g. a higher `max_iter`).
    argmax_predicts:
        Whether `predict` is the class of highest `predict_proba`, so evaluation can derive
        predictions from probabilities instead of running the model twice.
    """

    name: str
    classes: dict[Task, type[BaseEstimator]]
    defaults: dict[Task, dict[str, Any]] = field(default_factory=dict)
    argmax_predicts: bool = True

    @property
    def tasks(self) -> list[Task]:
        """The tasks this estimator supports, in `TASKS` order."""
        return [task for task in TASKS if task in self.classes]


def _spec(
    name: str,
    classification: type[BaseEstimator] | None = None,
    regression: type[BaseEstimator] | None = None,
    *,
    defaults: dict[Task, dict[str, Any]] | None = None,
    argmax_predicts: bool = True,
) -> EstimatorSpec:
    classes: dict[Task, type[BaseEstimator]] = {}
    if classification is not None:
        classes["classification"] = classification
    if regression is not None:
        classes["regression"] = regression
    return EstimatorSpec(name, classes, defaults or {}, argmax_predicts)


ESTIMATORS: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "logistic_regression",
            LogisticRegression,
            defaults={"classification": {"max_iter": 1000}},
        ),
        _spec("random_forest", RandomForestClassifier, RandomForestRegressor),
        _spec("extra_trees", ExtraTreesClassifier, ExtraTreesRegressor),
        _spec("gradient_boosting", GradientBoostingClassifier, GradientBoostingRegressor),
        _spec(
            "hist_gradient_boosting",
            HistGradientBoostingClassifier,
            HistGradientBoostingRegressor,
        ),
        _spec("decision_tree", DecisionTreeClassifier, DecisionTreeRegressor),
        _spec("knn", KNeighborsClassifier, KNeighborsRegressor),
        # No probabilities (SVC's `probability` is deprecated in scikit-learn 1.9), so no
        # roc_auc either.
        _spec("svm", SVC, SVR, argmax_predicts=False),
        _spec("linear_regression", regression=LinearRegression),
        _spec("ridge", regression=Ridge),
        _spec("lasso", regression=Lasso),
        _spec("elastic_net", regression=ElasticNet),
    )
}

_DEFAULT_ESTIMATOR: dict[Task, str] = {
    "classification": "random_forest",
    "regression": "random_forest",
}


class EstimatorError(DomainError):
    """The estimator name or parameters are not acceptable.

    Attributes
    ----------
    problems:
        One `{"field": ..., "message": ...}` per problem; `field` is `estimator` or
        `params.NAME`.
    """

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


def default_estimator(task: Task) -> str:
    """The estimator a job gets when it names none.

    Parameters
    ----------
    task:
        `classification` or `regression`.

    Returns
    -------
    A name in `ESTIMATORS` supporting the task.
    """
    if task not in _DEFAULT_ESTIMATOR:
        raise EstimatorError(
            [{"field": "task", "message": f"unknown task {task!r}; known: {list(TASKS)}"}]
        )
    return _DEFAULT_ESTIMATOR[task]


def check_estimator(name: str, params: dict[str, Any], task: Task | None = None) -> dict[str, Any]:
    """Validate an estimator name and its parameters, without building anything.

    Parameters
    ----------
    name:
        A short name from `ESTIMATORS`. Anything else (a dotted import path included) is
        refused as unknown.
    params:
        Constructor parameters as JSON values (None, bool, int, float, str, and lists or
        dicts of those).
    task:
        The task it will be trained for, if known: the estimator must support it and the
        parameters must exist for that task's class. None accepts parameters of any of
        its classes.

    Returns
    -------
    A copy of `params`, every one checked: the name exists in the class's constructor, is
    not reserved (`random_state`, `n_jobs`), and the value has the right type and range
    (scikit-learn's own parameter constraints; the type of the default otherwise).

    Raises
    ------
    EstimatorError
        Listing every problem found, each naming its field.
    """
    spec = ESTIMATORS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise EstimatorError(
            [
                {
                    "field": "estimator",
                    "message": f"unknown estimator {name!r}; known: {sorted(ESTIMATORS)}",
                }
            ]
        )
    if task is not None and task not in spec.classes:
        supporting = sorted(n for n, s in ESTIMATORS.items() if task in s.classes)
        raise EstimatorError(
            [
                {
                    "field": "estimator",
                    "message": f"{name} does not do {task} (it does {', '.join(spec.tasks)}); "
                    f"estimators for {task}: {supporting}",
                }
            ]
        )
    if not isinstance(params, dict):
        raise EstimatorError(
            [{"field": "params", "message": f"expected an object, got {_show(params)}"}]
        )
    classes = [spec.classes[task]] if task is not None else list(spec.classes.values())
    problems: list[dict[str, str]] = []
    for key, value in params.items():
        message = _param_problem(classes, key, value)
        if message is not None:
            problems.append({"field": f"params.{key}", "message": message})
    if problems:
        raise EstimatorError(problems)
    return dict(params)


def effective_params(name: str, params: dict[str, Any], *, task: Task) -> dict[str, Any]:
    """The parameters an estimator is built with: our defaults, overridden by the job's.

    Parameters
    ----------
    name:
        A name from `ESTIMATORS` (checked by `check_estimator`).
    params:
        The job's parameters.
    task:
        The task the estimator is built for.

    Returns
    -------
    Our task defaults (e.g. `max_iter` for logistic regression) updated with `params`.
    """
    cleaned = check_estimator(name, params, task)
    return {**ESTIMATORS[name].defaults.get(task, {}), **cleaned}


def build_estimator(
    name: str, params: dict[str, Any], *, task: Task, random_state: int
) -> BaseEstimator:
    """An unfitted estimator from the allow-list.

    Parameters
    ----------
    name:
        A name from `ESTIMATORS`.
    params:
        Constructor parameters, checked with `check_estimator`.
    task:
        Picks the classifier or the regressor.
    random_state:
        Seed given to estimators that take one, so the same job gives the same model.

    Returns
    -------
    The estimator, not fitted.

    Raises
    ------
    EstimatorError
        As `check_estimator`.
    """
    arguments = effective_params(name, params, task=task)
    cls = ESTIMATORS[name].classes[task]
    if "random_state" in _init_parameters(cls):
        arguments["random_state"] = random_state
    return cls(**arguments)


def _init_parameters(cls: type[BaseEstimator]) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(cls.__init__)
    return {
        key: parameter
        for key, parameter in signature.parameters.items()
        if key != "self"
        and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def _param_problem(classes: list[type[BaseEstimator]], key: Any, value: Any) -> str | None:
    """What is wrong with one parameter for any of `classes`, or None when one accepts it."""
    if not isinstance(key, str):
        return f"parameter names are strings, got {_show(key)}"
    if key in RESERVED_PARAMS:
        return f"{key} can't be set here: {RESERVED_PARAMS[key]}"
    if not _is_json_value(value):
        return f"expected a JSON value (null, bool, number, text, list, object), got {_show(value)}"
    owners = [cls for cls in classes if key in _init_parameters(cls)]
    if not owners:
        known = sorted({k for cls in classes for k in _init_parameters(cls)} - set(RESERVED_PARAMS))
        return f"unknown parameter {key!r}; known: {known}"
    messages = [_value_problem(cls, key, value) for cls in owners]
    if any(message is None for message in messages):
        return None
    return messages[0]


def _value_problem(cls: type[BaseEstimator], key: str, value: Any) -> str | None:
    default = _init_parameters(cls)[key].default
    expected = _expected_type(default)
    type_ok = _type_compatible(default, value)
    constraints = getattr(cls, "_parameter_constraints", {}).get(key)
    if constraints is None:
        return None if type_ok else f"expected {expected}, got {_show(value)}"
    # scikit-learn's own constraints decide (they know that e.g. min_samples_split also takes
    # a fraction); a bool where a number is due is refused although Python counts it as 1.
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        validate_parameter_constraints,
    )

    if isinstance(value, bool) and expected in ("int", "float"):
        return f"expected {expected}, got {_show(value)}"
    try:
        validate_parameter_constraints({key: constraints}, {key: value}, caller_name=cls.__name__)
    except InvalidParameterError as exc:
        if not type_ok:
            return f"expected {expected}, got {_show(value)}"
        return str(exc)
    return None


def _expected_type(default: Any) -> str:
    if default is None or default is inspect.Parameter.empty:
        return "any value"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    return type(default).__name__


def _type_compatible(default: Any, value: Any) -> bool:
    expected = _expected_type(default)
    if expected == "any value":
        return True
    if expected == "bool":
        return isinstance(value, bool)
    if expected == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "str":
        return isinstance(value, str)
    return isinstance(value, type(default))


def _is_json_value(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_is_json_value(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and _is_json_value(v) for k, v in value.items())
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[: _MAX_SHOWN_VALUE - 3] + "..."
