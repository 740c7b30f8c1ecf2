"""Params of the `mlops.*` kinds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from core.params.common import Params

BUNDLED_DATASETS = ("iris", "breast_cancer", "wine", "digits", "diabetes")


class TrainParams(Params):
    dataset: str = Field(
        pattern=r"^sklearn:(iris|breast_cancer|wine|digits)$",
        description="A bundled scikit-learn classification set: sklearn:iris, "
        "sklearn:breast_cancer, sklearn:wine or sklearn:digits.",
    )
    model: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="Model name (default: the dataset's name).",
    )
    estimator: Literal["logistic_regression", "random_forest", "gradient_boosting"] = Field(
        default="random_forest", description="Estimator from the allow-list."
    )
    test_size: float = Field(default=0.25, gt=0, lt=1, description="Held-out share.")
    random_state: int = Field(default=0, ge=0, description="Seed of split and estimator.")
