"""Repository of the model registry: models, versions, aliases, deployments, evaluations,
drift reports.

Every write is keyed so a rerun of the same job changes nothing twice: a version, an
evaluation, a deployment and a drift report each carry the id of the job that made them.
Alias moves lock the alias row (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises
writers) and write the history in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.tables import (
    Deployment,
    DriftReport,
    Evaluation,
    MLModel,
    ModelAlias,
    ModelVersion,
)

PRODUCTION = "production"
R = TypeVar("R", Evaluation, DriftReport)


def get_model(*, session: Session, name: str) -> MLModel:
    model = session.get(MLModel, name)
    if model is None:
        raise NotFound(f"model {name!r} not found")
    return model


def list_models(*, session: Session) -> list[MLModel]:
    return list(session.scalars(select(MLModel).order_by(MLModel.name)))


def list_versions(*, session: Session, name: str) -> list[ModelVersion]:
    get_model(session=session, name=name)
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_name == name)
            .order_by(ModelVersion.version.desc())
        )
    )


def get_version(*, session: Session, name: str, version: int) -> ModelVersion:
    found = session.scalar(
        select(ModelVersion).where(ModelVersion.model_name == name, ModelVersion.version == version)
    )
    if found is None:
        get_model(session=session, name=name)
        raise NotFound(f"model {name!r} has no version {version}")
    return found


def latest_version(*, session: Session, name: str) -> ModelVersion:
    found = session.scalar(
        select(ModelVersion)
        .where(ModelVersion.model_name == name)
        .order_by(ModelVersion.version.desc())
        .limit(1)
    )
    if found is None:
        get_model(session=session, name=name)
        raise NotFound(f"model {name!r} has no versions")
    return found


def aliases(*, session: Session, name: str) -> dict[str, int]:
    rows = session.scalars(select(ModelAlias).where(ModelAlias.model_name == name))
    return {row.alias: row.version for row in rows}


def all_aliases(*, session: Session) -> dict[str, dict[str, int]]:
    """Every model's aliases: {model: {alias: version}} (one query for a list of models)."""
    found: dict[str, dict[str, int]] = {}
    query = select(ModelAlias).order_by(ModelAlias.model_name, ModelAlias.alias)
    for row in session.scalars(query):
        found.setdefault(row.model_name, {})[row.alias] = row.version
    return found


def versions_trained_on(*, session: Session, dataset: str) -> list[ModelVersion]:
    """The model versions trained on `dataset` (as a version records it, e.g.
    `dataset:sales@3`), newest first."""
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.dataset == dataset)
            .order_by(ModelVersion.created_at.desc())
        )
    )


def resolve_alias(*, session: Session, name: str, alias: str) -> ModelVersion:
    """The version an alias points at now (one query: serving runs this per request)."""
    found = session.scalar(
        select(ModelVersion)
        .join(
            ModelAlias,
            (ModelAlias.model_name == ModelVersion.model_name)
            & (ModelAlias.version == ModelVersion.version),
        )
        .where(ModelAlias.model_name == name, ModelAlias.alias == alias)
    )
    if found is None:
        get_model(session=session, name=name)
        raise NotFound(f"model {name!r} has no alias {alias!r}")
    return found


def version_by_job(*, session: Session, job_id: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))


def register_version(
    *, session: Session, model_name: str, task: str, values: dict[str, Any], now: datetime
) -> ModelVersion:
    """Add the next version of a model (creating the model); the same job adds it once."""
    job_id = values.get("job_id")
    if job_id is not None:
        existing = version_by_job(session=session, job_id=job_id)
        if existing is not None:
            return existing
    model = session.get(MLModel, model_name, with_for_update=True)
    if model is None:
        model = MLModel(name=model_name, task=task, created_at=now, updated_at=now)
        session.add(model)
        session.flush()
    elif model.task != task:
        raise Conflict(
            f"model {model_name!r} is a {model.task} model; this dataset is {task}",
            details={"model_task": model.task, "dataset_task": task},
        )
    for _ in range(5):
        current = session.scalar(
            select(func.max(ModelVersion.version)).where(ModelVersion.model_name == model_name)
        )
        row = ModelVersion(
            model_name=model_name, version=(current or 0) + 1, task=task, created_at=now, **values
        )
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            continue  # another training took that number first
        model.updated_at = now
        return row
    raise Conflict(f"could not allocate a version number for {model_name!r}; try again")


# --- evaluations ------------------------------------------------------------------------


def _record_once(session: Session, model: type[R], values: dict[str, Any], now: datetime) -> R:
    """Insert a row made by a job, unless that job already made it (a rerun)."""
    job_id = values.get("job_id")
    if job_id is not None:
        existing = session.scalar(select(model).where(model.job_id == job_id))
        if existing is not None:
            return existing
    row = model(created_at=now, **values)
    session.add(row)
    session.flush()
    return row


def record_evaluation(*, session: Session, values: dict[str, Any], now: datetime) -> Evaluation:
    return _record_once(session, Evaluation, values, now)


def latest_evaluation(*, session: Session, name: str, version: int) -> Evaluation | None:
    return session.scalar(
        select(Evaluation)
        .where(Evaluation.model_name == name, Evaluation.version == version)
        .order_by(Evaluation.created_at.desc())
        .limit(1)
    )


def list_evaluations(*, session: Session, name: str, version: int) -> list[Evaluation]:
    return list(
        session.scalars(
            select(Evaluation)
            .where(Evaluation.model_name == name, Evaluation.version == version)
            .order_by(Evaluation.created_at.desc())
        )
    )


# --- aliases and deployments ------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    deployment: Deployment
    changed: bool


def history(*, session: Session, name: str, alias: str | None = None) -> list[Deployment]:
    query = select(Deployment).where(Deployment.model_name == name)
    if alias is not None:
        query = query.where(Deployment.alias == alias)
    return list(session.scalars(query.order_by(Deployment.at, Deployment.id)))


def move_alias(
    *,
    session: Session,
    name: str,
    alias: str,
    to_version: int,
    action: str,
    actor: str,
    reason: str | None,
    job_id: str | None,
    now: datetime,
) -> Move:
    """Point `alias` at `to_version` and record it; the same job moves it once."""
    if job_id is not None:
        done = session.scalar(select(Deployment).where(Deployment.job_id == job_id))
        if done is not None:
            return Move(done, changed=False)
    get_version(session=session, name=name, version=to_version)
    row = session.get(ModelAlias, (name, alias), with_for_update=True)
    from_version = row.version if row is not None else None
    if row is None:
        session.add(ModelAlias(model_name=name, alias=alias, version=to_version, updated_at=now))
    else:
        row.version = to_version
        row.updated_at = now
    deployment = Deployment(
        model_name=name,
        alias=alias,
        action=action,
        from_version=from_version,
        to_version=to_version,
        job_id=job_id,
        actor=actor,
        reason=reason,
        at=now,
    )
    session.add(deployment)
    session.flush()
    return Move(deployment, changed=True)


def rollback_target(*, session: Session, name: str, alias: str) -> int:
    """The version `alias` held before its current one, replaying the history as a stack:
    a deployment pushes, a rollback pops. Conflict when there is nothing to go back to."""
    stack: list[int] = []
    for move in history(session=session, name=name, alias=alias):
        if move.action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(move.to_version)
    if len(stack) < 2:
        get_model(session=session, name=name)
        raise Conflict(
            f"alias {alias!r} of {name!r} has no earlier version to roll back to",
            details={"history": stack},
        )
    return stack[-2]


# --- drift --------------------------------------------------------------------------------


def record_drift(*, session: Session, values: dict[str, Any], now: datetime) -> DriftReport:
    return _record_once(session, DriftReport, values, now)


def drift_reports(*, session: Session, name: str, limit: int = 50) -> list[DriftReport]:
    return list(
        session.scalars(
            select(DriftReport)
            .where(DriftReport.model_name == name)
            .order_by(DriftReport.created_at.desc())
            .limit(limit)
        )
    )


# --- checks at submit (the tasks check again, atomically) -------------------------------


def resolve_version(*, session: Session, name: str, version: int | str) -> ModelVersion:
    if version == "latest":
        return latest_version(session=session, name=name)
    return get_version(session=session, name=name, version=int(version))


def check_deployable(
    *, session: Session, name: str, version: int | str, force: bool
) -> tuple[ModelVersion, Evaluation | None]:
    """The version to deploy and its latest evaluation; Conflict unless that passed."""
    row = resolve_version(session=session, name=name, version=version)
    evaluation = latest_evaluation(session=session, name=name, version=row.version)
    if force:
        return row, evaluation
    if evaluation is None:
        raise Conflict(
            f"{name} v{row.version} has never been evaluated; run mlops.evaluate with "
            "thresholds first, or deploy with force and a reason",
            details={"version": row.version},
        )
    if evaluation.verdict != "passed":
        raise Conflict(
            f"{name} v{row.version}: its latest evaluation "
            f"{'failed' if evaluation.verdict == 'failed' else 'had no thresholds'}",
            details={
                "version": row.version,
                "evaluation_job": evaluation.job_id,
                "verdict": evaluation.verdict,
                "reasons": evaluation.reasons,
            },
        )
    return row, evaluation
