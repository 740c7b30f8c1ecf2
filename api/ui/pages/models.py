"""Models: the registry; a model with its versions, aliases, deployment history,
evaluations (each gate check) and drift reports; deploy and roll back — by submitting
the same jobs the API does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import ProducerDep, SessionDep, SettingsDep, VersionPath
from api.routes import mlops as mlops_routes
from api.ui.common import REFUSALS, done, refusal
from api.ui.render import PREFIX, page
from api.ui.session import Action, ActionDep, ViewerDep
from core import registry, submission
from core.config import Settings
from core.errors import Conflict, InvalidInput
from core.kinds.mlops import DEPLOY, ROLLBACK
from core.submission import Producer

router = APIRouter()

EVALUATED_VERSIONS = 10
"""Evaluations are listed for this many of the newest versions."""


@router.get("/models")
def model_list(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    models = registry.list_models(session=session)
    aliases = registry.all_aliases(session=session)
    rows = []
    for model in models:
        versions = registry.list_versions(session=session, name=model.name)
        rows.append(
            {
                "model": model,
                "aliases": aliases.get(model.name, {}),
                "versions": len(versions),
                "latest": versions[0] if versions else None,
            }
        )
    return page(request, "models.html", {"section": "models", "rows": rows})


def model_context(session: Session, name: str) -> dict[str, Any]:
    model = registry.get_model(session=session, name=name)
    versions = registry.list_versions(session=session, name=name)
    aliases = registry.aliases(session=session, name=name)
    evaluations = {
        v.version: registry.list_evaluations(session=session, name=name, version=v.version)
        for v in versions[:EVALUATED_VERSIONS]
    }
    rollbacks: dict[str, int] = {}
    for alias in aliases:
        try:
            rollbacks[alias] = registry.rollback_target(session=session, name=name, alias=alias)
        except Conflict:
            continue
    live: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        live.setdefault(version, []).append(alias)
    return {
        "section": "models",
        "model": model,
        "versions": versions,
        "aliases": aliases,
        "live": live,
        "evaluations": evaluations,
        "history": list(reversed(registry.history(session=session, name=name))),
        "drift": registry.drift_reports(session=session, name=name),
        "rollbacks": rollbacks,
    }


def render_model(
    request: Request, session: Session, name: str, *, status_code: int = 200, **extra: Any
) -> Response:
    context = {**model_context(session, name), **extra}
    return page(request, "model.html", context, status_code=status_code)


@router.get("/models/{name}")
def model_page(request: Request, name: str, viewer: ViewerDep, session: SessionDep) -> Response:
    return render_model(request, session, name)


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: VersionPath, viewer: ViewerDep, session: SessionDep
) -> Response:
    detail = mlops_routes.get_version(name, version, session)
    context = {"section": "models", "name": name, "version": detail}
    return page(request, "model_version.html", context)


def _submit(
    request: Request,
    session: Session,
    producer: Producer,
    settings: Settings,
    action: Action,
    name: str,
    kind: str,
    params: dict[str, Any],
    said: str,
) -> Response:
    try:
        job, _ = submission.submit(
            session=session,
            producer=producer,
            kind_name=kind,
            params=params,
            origin=f"console:{action.viewer.name}"[:100],
            settings=settings,
        )
    except REFUSALS as exc:
        session.rollback()
        code, message, details = refusal(exc)
        return render_model(
            request,
            session,
            name,
            status_code=code,
            error=message,
            error_status=code,
            error_details=details,
        )
    return done(request, f"{PREFIX}/jobs/{job.id}", f"{said} submitted as job {job.id}.")


@router.post("/models/{name}/deploy")
def deploy(
    request: Request,
    name: str,
    action: ActionDep,
    session: SessionDep,
    producer: ProducerDep,
    settings: SettingsDep,
) -> Response:
    """Submit mlops.deploy: the alias moves if the version's latest evaluation passed."""
    registry.get_model(session=session, name=name)
    version = action.field("version")
    alias = action.field("alias") or "production"
    params: dict[str, Any] = {"model": name, "version": version, "alias": alias}
    if version.isdigit():
        params["version"] = int(version)
    elif version != "latest":
        raise InvalidInput(f"version must be a number or latest, not {version!r}")
    if reason := action.field("reason"):
        params["reason"] = reason
    said = f"Deploy of {name} v{version} to {alias}"
    return _submit(request, session, producer, settings, action, name, DEPLOY.name, params, said)


@router.post("/models/{name}/rollback")
def rollback(
    request: Request,
    name: str,
    action: ActionDep,
    session: SessionDep,
    producer: ProducerDep,
    settings: SettingsDep,
) -> Response:
    """Submit mlops.rollback: the alias goes back to the version it held before."""
    registry.get_model(session=session, name=name)
    alias = action.field("alias") or "production"
    params: dict[str, Any] = {"model": name, "alias": alias}
    if reason := action.field("reason"):
        params["reason"] = reason
    said = f"Rollback of {name} {alias}"
    return _submit(request, session, producer, settings, action, name, ROLLBACK.name, params, said)
