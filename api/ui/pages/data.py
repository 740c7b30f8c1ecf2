"""Data: datasets and their versions (schema, stats, lineage up and down), ETL runs
(their page is the job's, with the row accounting and the check report), downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from api.deps import SessionDep, SettingsDep, VersionPath
from api.routes import dataops as dataops_routes
from api.ui.lineage import Node, layout
from api.ui.render import PREFIX, harden, page, segment
from api.ui.session import ViewerDep
from core import dataset_versions, jobs, registry
from core.kinds.dataops import ETL, PROFILE, VALIDATE
from core.tables import DatasetVersion

router = APIRouter()

RECENT = 20


@router.get("/data")
def data_page(request: Request, viewer: ViewerDep, session: SessionDep) -> Response:
    context = {
        "section": "data",
        "datasets": dataops_routes.list_datasets(session),
        "etl_jobs": jobs.list_jobs(session=session, kind=ETL.name, limit=RECENT).jobs,
        "check_jobs": [
            *jobs.list_jobs(session=session, kind=VALIDATE.name, limit=RECENT // 2).jobs,
            *jobs.list_jobs(session=session, kind=PROFILE.name, limit=RECENT // 2).jobs,
        ],
    }
    return page(request, "data.html", context)


@router.get("/data/{name}")
def dataset_page(request: Request, name: str, viewer: ViewerDep, session: SessionDep) -> Response:
    versions = dataset_versions.versions(session=session, name=name)
    dataset = dataset_versions.get_dataset(session=session, name=name)
    context = {"section": "data", "dataset": dataset, "versions": versions}
    return page(request, "dataset.html", context)


def source_node(item: dict[str, Any]) -> Node:
    """An input of a version as lineage records it: a dataset version, an upload, a path
    or a SQL connection."""
    if ref := item.get("dataset"):
        name, _, version = str(ref).partition("@")
        href = f"{PREFIX}/data/{segment(name)}/versions/{version}"
        return Node(str(ref), "dataset version", href)
    if item.get("file_id"):
        return Node(str(item.get("name") or item["file_id"]), "uploaded file")
    if item.get("path"):
        return Node(str(item["path"]), "file in the data directory")
    if item.get("connection"):
        return Node(str(item["connection"]), "SQL connection")
    return Node(", ".join(f"{k}={v}" for k, v in item.items())[:60] or "unknown", "source")


def lineage(session: SessionDep, row: DatasetVersion) -> dict[str, Any]:
    ref = f"{row.dataset}@{row.version}"
    outputs: list[Node] = []
    job = jobs.find_job(session=session, job_id=row.job_id) if row.job_id else None
    table = (job.result or {}).get("table") if job is not None else None
    if table:
        outputs.append(Node(str(table), "warehouse table"))
    below = dataset_versions.downstream(session=session, name=row.dataset, version=row.version)
    for v in below:
        outputs.append(
            Node(
                f"{v.dataset}@{v.version}",
                "dataset version",
                f"{PREFIX}/data/{segment(v.dataset)}/versions/{v.version}",
            )
        )
    models = registry.versions_trained_on(session=session, dataset=f"dataset:{ref}")
    for m in models:
        outputs.append(
            Node(
                f"{m.model_name} v{m.version}",
                "model version",
                f"{PREFIX}/models/{segment(m.model_name)}/versions/{m.version}",
            )
        )
    sources = [source_node(i) for i in row.inputs if isinstance(i, dict)]
    center = Node(ref, f"{row.rows:,} rows")
    graph = layout(
        f"Lineage of {ref}: sources, then this version, then what was made from it",
        sources,
        center,
        outputs,
    )
    return {"graph": graph, "sources": sources, "outputs": outputs, "table": table}


@router.get("/data/{name}/versions/{version}")
def version_page(
    request: Request, name: str, version: VersionPath, viewer: ViewerDep, session: SessionDep
) -> Response:
    row = dataset_versions.get_version(session=session, name=name, version=version)
    context = {"section": "data", "version": row, **lineage(session, row)}
    return page(request, "dataset_version.html", context)


@router.get("/data/{name}/versions/{version}/download")
def download(
    request: Request,
    name: str,
    version: VersionPath,
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
) -> StreamingResponse:
    """The version as Parquet, by the API's own download route."""
    response = dataops_routes.download_version(name, version, session, settings)
    harden(response, request)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
