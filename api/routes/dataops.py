"""DataOps resources: datasets and their versions, with lineage and downloads."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import SessionDep, SettingsDep, VersionPath, require
from api.downloads import blob_response
from api.schemas.dataops import DatasetOut, VersionDetail, VersionOut
from core import dataset_versions
from core.storage import artifact_store
from core.tables import DatasetVersion

router = APIRouter(tags=["dataops"])


@router.get("/datasets", dependencies=[require("read")], response_model=list[DatasetOut])
def list_datasets(session: SessionDep) -> list[DatasetOut]:
    """Every dataset with its latest version."""
    out = []
    for dataset in dataset_versions.list_datasets(session=session):
        rows = dataset_versions.versions(session=session, name=dataset.name)
        out.append(
            DatasetOut(
                name=dataset.name,
                latest_version=rows[0].version if rows else None,
                versions=len(rows),
                created_at=dataset.created_at,
                updated_at=dataset.updated_at,
            )
        )
    return out


@router.get("/datasets/{name}", dependencies=[require("read")], response_model=list[VersionOut])
def list_versions(name: str, session: SessionDep) -> list[DatasetVersion]:
    """The versions of a dataset, newest first."""
    return dataset_versions.versions(session=session, name=name)


@router.get(
    "/datasets/{name}/versions/{version}",
    dependencies=[require("read")],
    response_model=VersionDetail,
)
def dataset_version(name: str, version: VersionPath, session: SessionDep) -> VersionDetail:
    """One version: schema, column statistics, lineage upstream (inputs) and downstream."""
    row = dataset_versions.get_version(session=session, name=name, version=version)
    below = dataset_versions.downstream(session=session, name=name, version=version)
    return VersionDetail(
        **VersionOut.model_validate(row).model_dump(),
        stats=row.stats,
        upstream=row.inputs,
        downstream=[f"{v.dataset}@{v.version}" for v in below],
    )


@router.get(
    "/datasets/{name}/versions/{version}/download",
    dependencies=[require("read")],
    response_class=StreamingResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def download_version(
    name: str, version: VersionPath, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """The version's content as Parquet."""
    row = dataset_versions.get_version(session=session, name=name, version=version)
    return blob_response(
        artifact_store(settings),
        row.url,
        media_type="application/vnd.apache.parquet",
        filename=f"{name}-v{version}.parquet",
        sha256=row.sha256,
        size=row.size,
    )
