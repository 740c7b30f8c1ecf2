"""The `mlops.*` kinds: train, evaluate, deploy, rollback, predict in batch, check drift.

Estimator names and params are checked against the allow-list at submit (scikit-learn is
imported lazily, only when such a job is submitted), so a bad one is a 422 naming it; an
unknown model, version or alias, or a deployment whose gate did not pass, is refused at
submit by the kinds' prechecks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from core import dataset_versions, registry
from core.config import Settings
from core.kinds.common import ALIAS_NAME, MODEL_NAME, FileId, Params, check_table_file
from core.kinds.kind import JobKind
from core.validation import MAX_VERSION, human_pattern
from domain.dataops.refs import DatasetRef

BUNDLED_DATASETS = ("iris", "breast_cancer", "wine", "digits", "diabetes")
ModelName = Field(pattern=MODEL_NAME, description="Model name.")
AliasName = Field(default="production", pattern=ALIAS_NAME, description="Alias.")
TRAINING_DATA = human_pattern(
    r"^(sklearn:(iris|breast_cancer|wine|digits|diabetes)"
    r"|dataset:[a-z][a-z0-9_.-]{0,99}@[0-9]{1,9})$",
    "unknown dataset {input}; known: "
    + ", ".join(f"sklearn:{name}" for name in BUNDLED_DATASETS)
    + ", or dataset:NAME@VERSION for a DataOps dataset version (with target)",
)


class DatasetInput(Params):
    """Where the data comes from: a bundled scikit-learn set or an uploaded CSV."""

    dataset: str | None = Field(
        default=None,
        pattern=TRAINING_DATA,
        description="A bundled set (sklearn:iris, sklearn:breast_cancer, sklearn:wine, "
        "sklearn:digits, sklearn:diabetes — regression) or a DataOps dataset version "
        "(dataset:NAME@VERSION, with target).",
    )
    file_id: FileId | None = Field(default=None, description="An uploaded CSV.")
    target: str | None = Field(
        default=None, max_length=200, description="Target column of an uploaded CSV."
    )

    @model_validator(mode="after")
    def _one_source(self) -> DatasetInput:
        if (self.dataset is None) == (self.file_id is None):
            raise ValueError("give exactly one of dataset or file_id")
        return self

    @property
    def dataset_label(self) -> str:
        return self.dataset or f"file:{self.file_id}"

    @property
    def bundled(self) -> str | None:
        """The scikit-learn set named (`sklearn:iris` → `iris`), if one is."""
        if self.dataset is not None and self.dataset.startswith("sklearn:"):
            return self.dataset.removeprefix("sklearn:")
        return None

    @property
    def dataset_ref(self) -> DatasetRef | None:
        """The DataOps dataset version named (`dataset:sales@3`), if one is."""
        if self.dataset is not None and self.dataset.startswith("dataset:"):
            return DatasetRef(self.dataset.removeprefix("dataset:"))
        return None


class TrainParams(DatasetInput):
    model: str | None = Field(
        default=None,
        pattern=MODEL_NAME,
        description="Model name (default: the bundled set's name).",
    )
    estimator: str | None = Field(
        default=None, max_length=100, description="From the allow-list (default by task)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Estimator params, checked against its signature."
    )
    test_size: float = Field(default=0.25, ge=0, lt=1, description="Held-out share.")
    cv_folds: int = Field(default=0, ge=0, le=20, description="k-fold CV (0: none).")
    random_state: int = Field(default=0, ge=0, description="Seed of split and estimator.")

    @model_validator(mode="after")
    def _checks(self) -> TrainParams:
        bundled = self.bundled is not None
        if not bundled and not self.target:
            raise ValueError("an uploaded CSV or a dataset version needs target")
        if self.model is None and not bundled:
            raise ValueError("model is required unless training on a bundled set")
        if self.test_size == 0 and self.cv_folds < 2:
            raise ValueError("with test_size 0, cv_folds must be at least 2")
        if self.cv_folds == 1:
            raise ValueError("cv_folds must be 0 or at least 2")
        if self.estimator is not None or self.params:
            from domain.mlops.estimators import check_estimator

            name = self.estimator
            if name is None:
                from domain.mlops.estimators import default_estimator

                name = default_estimator(
                    "regression" if self.dataset == "sklearn:diabetes" else "classification"
                )
            self.params = check_estimator(name, self.params, None)
        return self

    @property
    def model_name(self) -> str:
        if self.model:
            return self.model
        assert self.bundled is not None
        return self.bundled


VersionRef = int | Literal["latest"]


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: dict[str, float] = Field(default_factory=dict, description="metric >= value")
    max: dict[str, float] = Field(default_factory=dict, description="metric <= value")
    max_drop: dict[str, float] = Field(
        default_factory=dict, description="not worse than the live version by more than this"
    )


class EvaluateParams(DatasetInput):
    model: str = ModelName
    version: VersionRef = Field(default="latest", description="A version, or latest.")
    compare_to: str | None = Field(default=None, pattern=ALIAS_NAME, description="Alias to beat.")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    gate: bool = Field(
        default=False, description="Fail the job when the verdict fails (stops a pipeline)."
    )


class DeployParams(Params):
    model: str = ModelName
    version: VersionRef = "latest"
    alias: str = AliasName
    force: bool = False
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _forced_needs_reason(self) -> DeployParams:
        if self.force and not self.reason:
            raise ValueError("force needs a reason")
        return self


class RollbackParams(Params):
    model: str = ModelName
    alias: str = AliasName
    reason: str | None = Field(default=None, max_length=2000)


class PredictBatchParams(DatasetInput):
    model: str = ModelName
    alias: str | None = Field(default=None, pattern=ALIAS_NAME)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)


class CheckDriftParams(DatasetInput):
    model: str = ModelName
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Default: the alias's."
    )
    alias: str = AliasName
    alpha: float = Field(default=0.05, gt=0, lt=1)
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    on_drift: Literal["none", "retrain"] = "none"


def _check_input(session: Session, params: DatasetInput) -> None:
    check_table_file(session, params.file_id)
    if (ref := params.dataset_ref) is not None:
        dataset_versions.get_version(session=session, name=ref.name, version=ref.version)


def _check_train(session: Session, params: TrainParams, settings: Settings | None) -> None:
    _check_input(session, params)


def _check_evaluate(session: Session, params: EvaluateParams, settings: Settings | None) -> None:
    _check_input(session, params)
    registry.resolve_version(session=session, name=params.model, version=params.version)
    if params.compare_to:
        registry.get_model(session=session, name=params.model)


def _check_deploy(session: Session, params: DeployParams, settings: Settings | None) -> None:
    registry.check_deployable(
        session=session, name=params.model, version=params.version, force=params.force
    )


def _check_rollback(session: Session, params: RollbackParams, settings: Settings | None) -> None:
    registry.rollback_target(session=session, name=params.model, alias=params.alias)


def _check_serving(
    session: Session, params: PredictBatchParams | CheckDriftParams, settings: Settings | None
) -> None:
    """The version a batch prediction or a drift check would use must exist."""
    _check_input(session, params)
    if params.version:
        registry.get_version(session=session, name=params.model, version=params.version)
    elif params.alias:
        registry.resolve_alias(session=session, name=params.model, alias=params.alias)
    else:
        registry.get_model(session=session, name=params.model)


CANCER = {"model": "cancer", "dataset": "sklearn:breast_cancer"}

TRAIN = JobKind(
    "mlops.train",
    "mlops",
    TrainParams,
    "Trains a scikit-learn pipeline (preprocessing + estimator from the allow-list) and "
    "registers a new model version with its metrics and checksummed artifact.",
    time_limit_s=3600,
    example=CANCER,
    precheck=_check_train,
)
EVALUATE = JobKind(
    "mlops.evaluate",
    "mlops",
    EvaluateParams,
    "Scores a model version on a dataset; with thresholds, a passed/failed verdict.",
    time_limit_s=1800,
    example={**CANCER, "version": 1, "thresholds": {"min": {"accuracy": 0.9}}},
    precheck=_check_evaluate,
)
DEPLOY = JobKind(
    "mlops.deploy",
    "mlops",
    DeployParams,
    "Points an alias (production by default) at a version whose evaluation passed.",
    time_limit_s=120,
    example={"model": "cancer", "version": 1, "alias": "production"},
    precheck=_check_deploy,
)
ROLLBACK = JobKind(
    "mlops.rollback",
    "mlops",
    RollbackParams,
    "Moves an alias back to the version it held before.",
    time_limit_s=120,
    example={"model": "cancer", "alias": "production", "reason": "v2 misbehaves"},
    precheck=_check_rollback,
)
PREDICT_BATCH = JobKind(
    "mlops.predict_batch",
    "mlops",
    PredictBatchParams,
    "Predicts a dataset with a model version; writes predictions.csv.",
    time_limit_s=3600,
    example=CANCER,
    precheck=_check_serving,
)
CHECK_DRIFT = JobKind(
    "mlops.check_drift",
    "mlops",
    CheckDriftParams,
    "Compares a dataset with a version's training data, feature by feature; optionally "
    "retrains on drift.",
    time_limit_s=1800,
    example=CANCER,
    precheck=_check_serving,
)

KINDS = (TRAIN, EVALUATE, DEPLOY, ROLLBACK, PREDICT_BATCH, CHECK_DRIFT)


def schedules(settings: Settings) -> list[dict[str, Any]]:
    # Off by default: name the models and the data to compare with their training data.
    return [
        {
            "name": f"drift-{model}",
            "kind": CHECK_DRIFT.name,
            "interval_s": float(settings.drift_check_interval_s),
            "params": {"model": model, "alias": "production", **source},
            "description": f"drift of {model}@production",
        }
        for model, source in settings.drift_checks.items()
    ]
