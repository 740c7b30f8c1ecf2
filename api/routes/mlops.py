"""MLOps resources: the model registry and online prediction."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, SettingsDep, VersionPath, require
from api.schemas.mlops import (
    DeploymentOut,
    DriftOut,
    EvaluationOut,
    ModelOut,
    PredictIn,
    PredictOut,
    VersionDetail,
    VersionOut,
)
from core import registry
from core.kinds.common import ALIAS_NAME
from core.model_store import ModelCache
from core.storage import artifact_store
from core.tables import MLModel, ModelVersion
from core.validation import MAX_VERSION

router = APIRouter(tags=["mlops"])


def _model_out(session: SessionDep, model: MLModel) -> ModelOut:
    versions = registry.list_versions(session=session, name=model.name)
    return ModelOut(
        name=model.name,
        task=model.task,
        aliases=registry.aliases(session=session, name=model.name),
        latest_version=versions[0].version if versions else None,
        created_at=model.created_at,
        updated_at=model.updated_at,
    )


@router.get("/models", dependencies=[require("read")], response_model=list[ModelOut])
def list_models(session: SessionDep) -> list[ModelOut]:
    """Every registered model with its aliases and latest version."""
    return [_model_out(session, m) for m in registry.list_models(session=session)]


@router.get("/models/{name}", dependencies=[require("read")], response_model=ModelOut)
def get_model(name: str, session: SessionDep) -> ModelOut:
    """One model: task, aliases, latest version."""
    return _model_out(session, registry.get_model(session=session, name=name))


@router.get(
    "/models/{name}/versions", dependencies=[require("read")], response_model=list[VersionOut]
)
def list_versions(name: str, session: SessionDep) -> list[ModelVersion]:
    """Versions of a model, newest first."""
    return registry.list_versions(session=session, name=name)


@router.get(
    "/models/{name}/versions/{version}",
    dependencies=[require("read")],
    response_model=VersionDetail,
)
def get_version(name: str, version: VersionPath, session: SessionDep) -> VersionDetail:
    """One version: metrics, evaluations, aliases pointing at it, lineage."""
    row = registry.get_version(session=session, name=name, version=version)
    aliases = [a for a, v in registry.aliases(session=session, name=name).items() if v == version]
    return VersionDetail(
        **VersionOut.model_validate(row).model_dump(),
        aliases=sorted(aliases),
        evaluations=[
            EvaluationOut.model_validate(e)
            for e in registry.list_evaluations(session=session, name=name, version=version)
        ],
        lineage={
            "training_job": row.job_id,
            "dataset": row.dataset,
            "data_fingerprint": row.data_fingerprint,
            "code_version": row.code_version,
            "library_versions": row.library_versions,
        },
    )


@router.get(
    "/models/{name}/deployments", dependencies=[require("read")], response_model=list[DeploymentOut]
)
def deployments(name: str, session: SessionDep, alias: str | None = None) -> list[DeploymentOut]:
    """Which version each alias pointed at, when, moved by whom and why (oldest first)."""
    registry.get_model(session=session, name=name)
    return [
        DeploymentOut.model_validate(d)
        for d in registry.history(session=session, name=name, alias=alias)
    ]


@router.get("/models/{name}/drift", dependencies=[require("read")], response_model=list[DriftOut])
def drift(name: str, session: SessionDep) -> list[DriftOut]:
    """Drift reports of a model, newest first."""
    registry.get_model(session=session, name=name)
    return [DriftOut.model_validate(d) for d in registry.drift_reports(session=session, name=name)]


_cache = ModelCache()


@router.post(
    "/models/{name}/predict",
    dependencies=[require("read")],
    response_model=PredictOut,
    responses={503: {"description": "The model artifact failed its checksum"}},
)
def predict(
    name: str,
    body: PredictIn,
    session: SessionDep,
    settings: SettingsDep,
    alias: Annotated[str, Query(pattern=ALIAS_NAME)] = "production",
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> PredictOut:
    """Predict with the version the alias points at now (or ?version=)."""
    started = time.perf_counter()
    row = (
        registry.get_version(session=session, name=name, version=version)
        if version is not None
        else registry.resolve_alias(session=session, name=name, alias=alias)
    )
    from domain.mlops.evaluation import predict as run_predict
    from domain.mlops.schema import records_to_frame

    frame = records_to_frame(body.records, row.feature_schema)
    model = _cache.get(artifact_store(settings), row.artifact_url, row.artifact_sha256)
    predictions, probabilities = run_predict(model, frame)
    return PredictOut(
        model=name,
        version=row.version,
        alias=None if version is not None else alias,
        predictions=predictions,
        probabilities=probabilities,
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
    )
