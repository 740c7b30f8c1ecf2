"""Params of the `mlops.*` kinds.

Estimator names and params are checked against the allow-list at submit (scikit-learn is
imported lazily, only when such a job is submitted), so a bad one is a 422 naming it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.params.common import ALIAS_NAME, MODEL_NAME, FileId, Params
from core.validation import human_pattern

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
        bundled = self.dataset is not None and self.dataset.startswith("sklearn:")
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
        assert self.dataset is not None
        return self.dataset.split(":", 1)[1]


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
    version: int | None = Field(default=None, ge=1)


class CheckDriftParams(DatasetInput):
    model: str = ModelName
    version: int | None = Field(default=None, ge=1, description="Default: the alias's.")
    alias: str = AliasName
    alpha: float = Field(default=0.05, gt=0, lt=1)
    share_threshold: float = Field(default=0.5, gt=0, le=1)
    on_drift: Literal["none", "retrain"] = "none"
