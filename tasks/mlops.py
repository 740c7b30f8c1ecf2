"""`mlops.*` kinds: train, evaluate, deploy, rollback, predict_batch, check_drift."""

from __future__ import annotations

import io
import platform
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from celery import current_app
from sqlalchemy.orm import Session

from core import pipelines, registry
from core.errors import GateFailed, InvalidInput
from core.kinds.mlops import (
    TRAIN,
    CheckDriftParams,
    DatasetInput,
    DeployParams,
    EvaluateParams,
    PredictBatchParams,
    RollbackParams,
    TrainParams,
)
from core.model_store import load_model
from core.storage import artifact_store
from core.submission import submit
from core.tables import ModelVersion
from domain.mlops.drift import check_drift as drift_report
from domain.mlops.drift import reference_profile
from domain.mlops.evaluation import evaluate as evaluate_pipeline
from domain.mlops.evaluation import gate, predict
from domain.mlops.training import train as train_pipeline
from domain.mlops.training_data import Dataset, Task, from_frame, load_bundled
from tasks.base import JobContext, job_task
from tasks.readers import Table, read_table


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def read_frame(ctx: JobContext, file_id: str) -> Table:
    """An uploaded table, read as every kind reads tables (broken lines set aside)."""
    record = ctx.file_record(file_id)
    with ctx.local_file(file_id) as path:
        return read_table(path, record.name)


def _table(ctx: JobContext, params: DatasetInput) -> Table:
    """The table a job names: a DataOps dataset version or an uploaded file."""
    if (ref := params.dataset_ref) is not None:
        return Table(ctx.dataset_frame(ref)[0])
    assert params.file_id is not None
    return read_frame(ctx, params.file_id)


def load_dataset(
    ctx: JobContext, params: DatasetInput, *, target: str | None = None
) -> tuple[Dataset, Table | None]:
    """Features and target of a bundled set, an uploaded CSV or a dataset version, and
    the table they came from (None for a bundled set)."""
    if (name := params.bundled) is not None:
        return load_bundled(name), None
    column = params.target or target
    if not column:
        raise InvalidInput("target is required to train or evaluate on this data")
    table = _table(ctx, params)
    return from_frame(table.frame, column, name=params.dataset_label), table


def load_features(
    ctx: JobContext, params: DatasetInput, *, target: str | None = None
) -> tuple[pd.DataFrame, Table | None]:
    """Just the features: a bundled set's, or every column of a table but the target
    (`params.target`, else `target`), and the table they came from."""
    if (name := params.bundled) is not None:
        return load_bundled(name).features, None
    table = _table(ctx, params)
    column = params.target or target
    frame = table.frame
    if column and column in frame.columns:
        frame = frame.drop(columns=[column])
    return frame, table


def with_broken_lines(result: dict[str, Any], table: Table | None) -> dict[str, Any]:
    """The result, with the input's broken lines when it had any."""
    if table is not None and table.broken:
        result["broken_lines"] = table.report()
    return result


def schema_frame(features: pd.DataFrame, version: ModelVersion) -> pd.DataFrame:
    """The model's feature columns in order; missing ones are an error, extra ones ignored."""
    names = [f["name"] for f in version.feature_schema]
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise InvalidInput(
            f"the data lacks features of {version.model_name} v{version.version}: {missing}",
            details={"missing": missing},
        )
    return features[names]


def _model_of(ctx: JobContext, version: ModelVersion) -> Any:
    return load_model(artifact_store(ctx.settings), version.artifact_url, version.artifact_sha256)


@job_task("mlops.train")
def train(ctx: JobContext, params: TrainParams) -> dict[str, Any]:
    """Train a pipeline and register it as the model's next version."""
    with ctx.session() as session:
        done = registry.version_by_job(session=session, job_id=ctx.job_id)
        if done is not None:  # this job already registered its version
            return _train_result(done)
    ctx.progress(0.05, f"loading {params.dataset_label}", force=True)
    data, table = load_dataset(ctx, params)
    trained = train_pipeline(
        data,
        estimator=params.estimator,
        params=params.params,
        test_size=params.test_size,
        cv_folds=params.cv_folds,
        random_state=params.random_state,
        progress=lambda fraction, message: ctx.progress(0.1 + 0.7 * fraction, message),
    )
    ctx.progress(0.85, "saving the model", force=True)
    buffer = io.BytesIO()
    joblib.dump(trained.pipeline, buffer)
    artifact = ctx.save_artifact("model.joblib", buffer.getvalue(), "application/octet-stream")
    profile = reference_profile(data.features, trained.feature_schema)
    with ctx.session() as session:
        version = registry.register_version(
            session=session,
            model_name=params.model_name,
            task=trained.task,
            now=ctx.now(),
            values={
                "job_id": ctx.job_id,
                "estimator": trained.estimator,
                "params": trained.params,
                "metrics": trained.metrics,
                "cv": trained.cv,
                "feature_schema": trained.feature_schema,
                "classes": trained.classes,
                "dataset": params.dataset_label,
                "target": params.target,
                "data_fingerprint": data.fingerprint,
                "train_rows": trained.train_rows,
                "test_rows": trained.test_rows,
                "library_versions": library_versions(),
                "code_version": ctx.settings.code_version,
                "artifact_url": artifact.url,
                "artifact_sha256": artifact.sha256,
                "artifact_size": artifact.size,
                "reference_profile": profile,
            },
        )
        result = _train_result(version)
    result["fit_seconds"] = trained.fit_seconds
    return with_broken_lines(result, table)


def _train_result(version: ModelVersion) -> dict[str, Any]:
    return {
        "model": version.model_name,
        "version": version.version,
        "task": version.task,
        "estimator": version.estimator,
        "params": version.params,
        "metrics": version.metrics,
        "cv": version.cv,
        "features": len(version.feature_schema),
        "train_rows": version.train_rows,
        "test_rows": version.test_rows,
        "data_fingerprint": version.data_fingerprint,
        "artifact": {"name": "model.joblib", "sha256": version.artifact_sha256},
    }


@job_task("mlops.evaluate")
def evaluate(ctx: JobContext, params: EvaluateParams) -> dict[str, Any]:
    """Score a version on a dataset; with thresholds or compare_to, a verdict."""
    version_ref = _pipeline_version(ctx, params.model, params.version)
    with ctx.session() as session:
        candidate = registry.resolve_version(
            session=session, name=params.model, version=version_ref
        )
        live = None
        if params.compare_to:
            aliases = registry.aliases(session=session, name=params.model)
            if params.compare_to in aliases:
                live = registry.get_version(
                    session=session, name=params.model, version=aliases[params.compare_to]
                )
    data, table = load_dataset(ctx, params, target=candidate.target)
    ctx.progress(0.3, f"scoring {params.model} v{candidate.version}", force=True)
    metrics = evaluate_pipeline(
        _model_of(ctx, candidate), _with_schema(data, candidate), task=_task(candidate)
    )
    live_metrics = None
    if live is not None:
        ctx.progress(0.6, f"scoring the live version v{live.version}", force=True)
        live_metrics = evaluate_pipeline(
            _model_of(ctx, live), _with_schema(data, live), task=_task(live)
        )
    thresholds = params.thresholds
    judged = bool(thresholds.min or thresholds.max or thresholds.max_drop or params.compare_to)
    verdict = (
        gate(
            metrics,
            minimums=thresholds.min,
            maximums=thresholds.max,
            max_drop=thresholds.max_drop,
            live_metrics=live_metrics,
        )
        if judged
        else None
    )
    with ctx.session() as session:
        registry.record_evaluation(
            session=session,
            now=ctx.now(),
            values={
                "model_name": params.model,
                "version": candidate.version,
                "job_id": ctx.job_id,
                "dataset": params.dataset_label,
                "data_fingerprint": data.fingerprint,
                "metrics": metrics,
                "verdict": None if verdict is None else ("passed" if verdict.passed else "failed"),
                "reasons": [] if verdict is None else verdict.reasons,
                "checks": [] if verdict is None else verdict.checks,
                "compared_to": params.compare_to,
                "live_version": live.version if live else None,
            },
        )
    result = {
        "model": params.model,
        "version": candidate.version,
        "metrics": metrics,
        "live_version": live.version if live else None,
        "live_metrics": live_metrics,
        "verdict": None if verdict is None else ("passed" if verdict.passed else "failed"),
        "reasons": [] if verdict is None else verdict.reasons,
        "checks": [] if verdict is None else verdict.checks,
    }
    with_broken_lines(result, table)
    if params.gate and verdict is not None and not verdict.passed:
        raise GateFailed(
            f"{params.model} v{candidate.version} failed its gate: " + "; ".join(verdict.reasons),
            details=result,
        )
    return result


def _task(version: ModelVersion) -> Task:
    return "regression" if version.task == "regression" else "classification"


def _with_schema(data: Dataset, version: ModelVersion) -> Dataset:
    features = schema_frame(data.features, version)
    return Dataset(
        name=data.name,
        features=features,
        target=data.target,
        task=data.task,
        fingerprint=data.fingerprint,
    )


def _pipeline_version(ctx: JobContext, model: str, version: int | str) -> int | str:
    """`latest` inside a pipeline means the version an earlier step of it trained."""
    if version != "latest":
        return version
    with ctx.session() as session:
        earlier = pipelines.earlier_results(session=session, job_id=ctx.job_id, kind=TRAIN.name)
    for result in earlier:
        if result.get("model") == model:
            return int(result["version"])
    return version


@job_task("mlops.deploy")
def deploy(ctx: JobContext, params: DeployParams) -> dict[str, Any]:
    """Point an alias at a version whose latest evaluation passed (or forced, with a reason)."""
    version_ref = _pipeline_version(ctx, params.model, params.version)
    with ctx.session() as session:
        row, evaluation = registry.check_deployable(
            session=session, name=params.model, version=version_ref, force=params.force
        )
        moved = _move_alias(
            ctx,
            session,
            params.model,
            params.alias,
            row.version,
            action="force-deploy" if params.force else "deploy",
            reason=params.reason,
        )
        return {
            **moved,
            "forced": params.force,
            "evaluation_job": evaluation.job_id if evaluation else None,
        }


def _move_alias(
    ctx: JobContext,
    session: Session,
    model: str,
    alias: str,
    to_version: int,
    *,
    action: str,
    reason: str | None,
) -> dict[str, Any]:
    move = registry.move_alias(
        session=session,
        name=model,
        alias=alias,
        to_version=to_version,
        action=action,
        actor=f"job:{ctx.job_id}",
        reason=reason,
        job_id=ctx.job_id,
        now=ctx.now(),
    )
    return {
        "model": model,
        "alias": alias,
        "from_version": move.deployment.from_version,
        "to_version": move.deployment.to_version,
    }


@job_task("mlops.rollback")
def rollback(ctx: JobContext, params: RollbackParams) -> dict[str, Any]:
    """Move an alias back to the version it held before."""
    with ctx.session() as session:
        target = registry.rollback_target(session=session, name=params.model, alias=params.alias)
        return _move_alias(
            ctx,
            session,
            params.model,
            params.alias,
            target,
            action="rollback",
            reason=params.reason,
        )


def _serving_version(
    ctx: JobContext, model: str, version: int | None, alias: str | None
) -> ModelVersion:
    with ctx.session() as session:
        if version is not None:
            return registry.get_version(session=session, name=model, version=version)
        return registry.resolve_alias(session=session, name=model, alias=alias or "production")


@job_task("mlops.predict_batch")
def predict_batch(ctx: JobContext, params: PredictBatchParams) -> dict[str, Any]:
    """Predict every row of a dataset; write predictions.csv; record the version used."""
    version = _serving_version(ctx, params.model, params.version, params.alias)
    loaded, table = load_features(ctx, params, target=version.target)
    features = schema_frame(loaded, version)
    ctx.progress(0.3, f"predicting {len(features)} rows with v{version.version}", force=True)
    predictions, probabilities = predict(_model_of(ctx, version), features)
    out = pd.DataFrame({"row": range(len(features)), "prediction": predictions})
    if probabilities is not None:
        for label in probabilities[0] if probabilities else []:
            out[f"p_{label}"] = [p[label] for p in probabilities]
    artifact = ctx.save_artifact("predictions.csv", out.to_csv(index=False).encode(), "text/csv")
    result = {
        "model": params.model,
        "version": version.version,
        "rows": len(out),
        "artifact": artifact.public(),
    }
    return with_broken_lines(result, table)


@job_task("mlops.check_drift")
def check_drift(ctx: JobContext, params: CheckDriftParams) -> dict[str, Any]:
    """Compare a dataset with a version's training data; optionally retrain on drift."""
    version = _serving_version(ctx, params.model, params.version, params.alias)
    if not version.reference_profile:
        raise InvalidInput(f"{params.model} v{version.version} has no training-data profile")
    target = params.target or version.target
    features, table = load_features(ctx, params, target=target)
    report = drift_report(
        version.reference_profile,
        features,
        schema=version.feature_schema,
        alpha=params.alpha,
        share_threshold=params.share_threshold,
    )
    retrain_job = None
    if report["drift"] and params.on_drift == "retrain":
        # The new data is the better training set whenever it holds the target.
        new_data = target if table is not None and target in table.frame.columns else None
        retrain_job = _submit_retrain(ctx, params, version, new_data_target=new_data)
    with ctx.session() as session:
        registry.record_drift(
            session=session,
            now=ctx.now(),
            values={
                "model_name": params.model,
                "version": version.version,
                "job_id": ctx.job_id,
                "dataset": params.dataset_label,
                "drift": bool(report["drift"]),
                "report": report,
                "retrain_job_id": retrain_job,
            },
        )
    result = {
        "model": params.model,
        "version": version.version,
        "drift": bool(report["drift"]),
        "verdict": report["verdict"],
        "drifted_features": report["drifted_features"],
        "share_drifted": report["share_drifted"],
        "retrain_job_id": retrain_job,
        "features": report["features"],
    }
    return with_broken_lines(result, table)


def _submit_retrain(
    ctx: JobContext,
    params: CheckDriftParams,
    version: ModelVersion,
    *,
    new_data_target: str | None,
) -> str:
    """A training job like the version's: on the data just checked when it holds the
    target (`new_data_target`), else on the version's own training data."""
    train_params: dict[str, Any] = {
        "model": params.model,
        "estimator": version.estimator,
        "params": version.params,
    }
    if new_data_target is not None:
        source = {"file_id": params.file_id} if params.file_id else {"dataset": params.dataset}
        train_params.update(source, target=new_data_target)
    elif version.dataset.startswith("file:"):
        train_params.update(file_id=version.dataset[5:], target=version.target)
    else:
        train_params["dataset"] = version.dataset
        if version.target and not version.dataset.startswith("sklearn:"):
            train_params["target"] = version.target
    with ctx.session() as session:
        job, _ = submit(
            session=session,
            producer=current_app,
            kind_name="mlops.train",
            params=train_params,
            idempotency_key=f"retrain-after-{ctx.job_id}",
            origin=f"drift:{ctx.job_id}",
        )
        return job.id
