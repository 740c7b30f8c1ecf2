"""Every name or path a user sends stays inside its store: `..`, absolute paths and
symlinks placed in a store are refused with a plain 4xx, and nothing outside is read
or written."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from core import artifacts, jobs
from core.config import Settings
from core.db import session_scope
from core.errors import InvalidInput
from core.kinds import get_kind
from core.storage import BlobStore
from tasks.base import JobContext
from tasks.sources import data_file

ESCAPES = ["../x", "/etc/passwd", "a/../../b"]


def _plain_4xx(response: Any) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    assert "Traceback" not in detail and "root:" not in response.text
    return detail


ROUTES = [
    "/api/v1/datasets/{}",
    "/api/v1/datasets/{}/versions/1",
    "/api/v1/models/{}",
    "/api/v1/models/{}/versions",
    "/api/v1/models/{}/versions/1",
    "/api/v1/models/{}/deployments",
    "/api/v1/models/{}/drift",
    "/api/v1/log-streams/{}/templates",
    "/api/v1/schedules/{}",
    "/api/v1/jobs/{}",
    "/api/v1/jobs/{}/artifacts",
    "/api/v1/jobs/00000000-0000-0000-0000-000000000000/artifacts/{}",
    "/api/v1/incidents/{}",
    "/api/v1/pipelines/{}",
]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", ESCAPES)
def test_a_route_given_a_path_for_a_name_answers_a_plain_4xx(
    client: TestClient, route: str, name: str
) -> None:
    _plain_4xx(client.get(route.format(quote(name, safe=""))))


def _etl(source: dict[str, Any], target: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"source": source, "target": target or {"dataset": "ok"}}


PARAMS = [
    ("dataops.profile", lambda v: {"file_id": v}, "file_id"),
    ("dataops.profile", lambda v: {"dataset": f"{v}@1"}, "dataset"),
    ("dataops.etl", lambda v: _etl({"path": v}), "path"),
    ("dataops.etl", lambda v: _etl({"connection": v, "query": "SELECT 1"}), "connection"),
    ("dataops.etl", lambda v: _etl({"path": "ok.csv"}, {"dataset": v}), "dataset"),
    ("dataops.etl", lambda v: _etl({"path": "ok.csv"}, {"table": v}), "table"),
    ("aiops.parse_logs", lambda v: {"lines": ["a"], "stream": v}, "stream"),
    ("mlops.train", lambda v: {"dataset": "sklearn:iris", "model": v}, "model"),
    ("mlops.train", lambda v: {"dataset": f"dataset:{v}@1", "target": "y"}, "dataset"),
    ("mlops.deploy", lambda v: {"model": v, "version": 1}, "model"),
]


@pytest.mark.parametrize(("kind", "make", "field"), PARAMS)
@pytest.mark.parametrize("value", ESCAPES)
def test_a_job_param_given_a_path_for_a_name_is_a_422_naming_the_field(
    client: TestClient, kind: str, make: Any, field: str, value: str
) -> None:
    response = client.post("/api/v1/jobs", json={"kind": kind, "params": make(value)})
    detail = _plain_4xx(response)
    assert response.status_code == 422
    assert field in detail, detail
    assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing queued


@pytest.mark.parametrize(
    "filename", ["../../escape.csv", "/etc/passwd", "a/../../b.csv", "..\\..\\win.csv"]
)
def test_an_upload_name_with_a_path_is_kept_as_a_bare_name_inside_the_store(
    client: TestClient, settings: Settings, filename: str
) -> None:
    response = client.post("/api/v1/files", files={"file": (filename, b"a\n1\n", "text/csv")})
    assert response.status_code == 201, response.text
    stored = response.json()
    assert "/" not in stored["name"] and "\\" not in stored["name"]
    files_root = Path(BlobStore(settings.files_url).root)
    assert (files_root / stored["id"] / "data").read_bytes() == b"a\n1\n"


def test_an_artifact_replaced_by_a_symlink_out_of_the_store_is_not_served(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("outside the store")
    store = BlobStore(settings.artifacts_url)
    kind = get_kind("system.echo")
    with session_scope(settings) as session:
        job, _ = jobs.create_job(session=session, kind=kind, params={})
        info = store.put_bytes((job.id, "report.txt"), b"inside")
        artifacts.upsert_artifact(
            session=session, job_id=job.id, name="report.txt", info=info, media_type="text/plain"
        )
        job_id = job.id
    served = client.get(f"/api/v1/jobs/{job_id}/artifacts/report.txt")
    assert served.status_code == 200 and served.content == b"inside"
    blob = Path(store.local_path(info.url) or "")
    blob.unlink()
    blob.symlink_to(secret)
    refused = client.get(f"/api/v1/jobs/{job_id}/artifacts/report.txt")
    assert "leads outside its store" in _plain_4xx(refused)
    assert "outside the store" not in refused.text
    assert secret.read_text() == "outside the store"


def test_a_data_file_linked_out_of_the_data_directory_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("a\n1\n")
    root = settings.data_root
    root.mkdir(parents=True, exist_ok=True)
    link = root / "linked.csv"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    (root / "inside.csv").write_text("a\n2\n")
    ctx = JobContext(
        job_id="t", kind=get_kind("dataops.etl"), attempt=1, worker="t", settings=settings
    )
    try:
        assert data_file(ctx, "inside.csv") == (root / "inside.csv").resolve()
        for name in ["linked.csv", "../x", "/etc/passwd", "a/../../b"]:
            with pytest.raises(InvalidInput, match="inside the data directory"):
                data_file(ctx, name)
    finally:
        link.unlink()
