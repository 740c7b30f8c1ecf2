"""`mlops.*` kinds."""

from __future__ import annotations

import io
from typing import Any

import joblib
import sklearn

from core.params.mlops import TrainParams
from domain.mlops.training import load_bundled, train_classifier
from tasks.base import JobContext, job_task


@job_task("mlops.train")
def train(ctx: JobContext, params: TrainParams) -> dict[str, Any]:
    """Train a classifier on a bundled dataset; save it with joblib and its sha256."""
    dataset_name = params.dataset.split(":", 1)[1]
    ctx.progress(0.1, f"loading {params.dataset}", force=True)
    data = load_bundled(dataset_name)
    ctx.progress(0.3, f"fitting {params.estimator}", force=True)
    trained = train_classifier(
        data,
        estimator=params.estimator,
        test_size=params.test_size,
        random_state=params.random_state,
    )
    ctx.progress(0.9, "saving the model", force=True)
    buffer = io.BytesIO()
    joblib.dump(trained.pipeline, buffer)
    artifact = ctx.save_artifact("model.joblib", buffer.getvalue(), "application/octet-stream")
    return {
        "model": params.model or dataset_name,
        "dataset": params.dataset,
        "estimator": params.estimator,
        "metrics": trained.metrics,
        "features": len(trained.feature_names),
        "classes": trained.classes,
        "train_rows": trained.train_rows,
        "test_rows": trained.test_rows,
        "data_fingerprint": data.fingerprint,
        "artifact": artifact,
        "sklearn_version": sklearn.__version__,
    }
