"""The HTTP API against the real database and Redis (no workers: messages stay queued)."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from core.broker import create_celery, message_ids_in_broker
from core.config import Settings
from tests.api.conftest import upload


def submit(client: TestClient, kind: str = "system.echo", **body: object) -> dict[str, object]:
    response = client.post("/api/v1/jobs", json={"kind": kind, "params": {}, **body})
    assert response.status_code == 202, response.text
    result: dict[str, object] = response.json()
    return result


def test_health_needs_no_token_and_reports_broker_and_database(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={"Authorization": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]
    assert set(body["workers"]) == {"aiops", "mlops", "dataops"}


def test_calls_without_a_valid_token_are_401(client: TestClient) -> None:
    assert client.get("/api/v1/jobs", headers={"Authorization": ""}).status_code == 401
    wrong = client.get("/api/v1/jobs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "Unauthorized"


def test_the_catalog_lists_every_kind_with_its_schema(client: TestClient) -> None:
    kinds = {k["kind"]: k for k in client.get("/api/v1/kinds").json()}
    assert {"aiops.parse_logs", "mlops.train", "dataops.profile", "system.echo"} <= set(kinds)
    assert kinds["mlops.train"]["queue"] == "mlops"
    assert "dataset" in kinds["mlops.train"]["params_schema"]["properties"]


def test_a_submitted_job_is_queued_with_its_message_in_redis(
    client: TestClient, settings: Settings
) -> None:
    job = submit(client, params={"payload": [1, 2]})
    assert job["status"] == "queued" and job["queue"] == "system"
    assert job["params"] == {
        "payload": [1, 2],
        "sleep_s": 0.0,
        "fail_with": None,
        "exit_process": False,
        "transient_failures": 0,
    }
    assert job["enqueued_at"] is not None
    assert job["id"] in message_ids_in_broker(create_celery(settings), ["system"])
    assert client.get(f"/api/v1/jobs/{job['id']}").json()["id"] == job["id"]


def test_an_unknown_kind_is_422_listing_the_known_kinds(client: TestClient) -> None:
    response = client.post("/api/v1/jobs", json={"kind": "aiops.nope", "params": {}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert "aiops.nope" in error["message"]
    assert "mlops.train" in error["details"]["known_kinds"]


def test_bad_params_are_422_naming_each_field(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "mlops.train", "params": {"dataset": "sklearn:nope", "test_size": 2}},
    )
    assert response.status_code == 422
    locs = {tuple(d["loc"]) for d in response.json()["error"]["details"]}
    assert ("params", "dataset") in locs and ("params", "test_size") in locs


def test_an_unknown_param_is_rejected_not_ignored(client: TestClient) -> None:
    response = client.post("/api/v1/jobs", json={"kind": "system.echo", "params": {"paylaod": 1}})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["params", "paylaod"]


def test_a_file_id_that_was_never_uploaded_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={
            "kind": "dataops.profile",
            "params": {"file_id": "00000000-0000-4000-8000-000000000000"},
        },
    )
    assert response.status_code == 422
    assert "upload it first" in response.json()["error"]["message"]


def test_a_malformed_body_is_422_not_500(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_the_same_idempotency_key_and_body_returns_the_same_job(client: TestClient) -> None:
    first = submit(client, params={"payload": 1}, idempotency_key="k-1")
    again = client.post(
        "/api/v1/jobs",
        json={"kind": "system.echo", "params": {"payload": 1}, "idempotency_key": "k-1"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]


def test_the_same_idempotency_key_with_another_body_is_409(client: TestClient) -> None:
    first = submit(client, params={"payload": 1}, idempotency_key="k-2")
    other = client.post(
        "/api/v1/jobs",
        json={"kind": "system.echo", "params": {"payload": 2}, "idempotency_key": "k-2"},
    )
    assert other.status_code == 409
    assert other.json()["error"]["details"]["job_id"] == first["id"]


def test_a_batch_with_one_bad_job_submits_none(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs:batch",
        json={"jobs": [{"kind": "system.echo"}, {"kind": "nope.kind"}, {"kind": "system.echo"}]},
    )
    assert response.status_code == 422
    assert [d["index"] for d in response.json()["error"]["details"]] == [1]
    assert client.get("/api/v1/jobs").json()["jobs"] == []


def test_a_batch_submits_every_job(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs:batch",
        json={"jobs": [{"kind": "system.echo", "params": {"payload": i}} for i in range(3)]},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["created"] == [True, True, True]
    assert [j["params"]["payload"] for j in body["jobs"]] == [0, 1, 2]


def test_listing_pages_through_every_job_once_with_the_cursor(client: TestClient) -> None:
    ids = {str(submit(client, params={"payload": i})["id"]) for i in range(7)}
    submit(client, "mlops.train", params={"dataset": "sklearn:iris"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, "kind": "system.echo"}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/jobs", params=params).json()
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == ids
    queued = client.get("/api/v1/jobs", params={"status": "queued", "kind": "mlops.train"}).json()
    assert [j["kind"] for j in queued["jobs"]] == ["mlops.train"]


def test_listing_with_an_unknown_status_or_bad_cursor_is_422(client: TestClient) -> None:
    assert client.get("/api/v1/jobs", params={"status": "sleeping"}).status_code == 422
    assert client.get("/api/v1/jobs", params={"cursor": "%%%"}).status_code == 422


def test_an_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/jobs/does-not-exist")
    assert response.status_code == 404
    assert client.get("/api/v1/jobs/does-not-exist/artifacts").status_code == 404


def test_cancelling_a_queued_job_marks_it_and_a_second_cancel_is_a_no_op(
    client: TestClient,
) -> None:
    job = submit(client)
    first = client.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert first.status_code == 200 and first.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200


def test_an_upload_is_stored_with_its_size_and_sha256(client: TestClient) -> None:
    content = b"a,b\n1,2\n"
    stored = upload(client, content, name="../../etc/passwd")
    assert stored["size"] == len(content)
    assert stored["sha256"] == hashlib.sha256(content).hexdigest()
    assert stored["name"] == "passwd"


def test_an_upload_over_the_limit_is_413_and_nothing_is_kept(
    client: TestClient, settings: Settings
) -> None:
    limited = settings.model_copy(update={"max_upload_bytes": 1000})
    client.app.state.settings = limited  # type: ignore[attr-defined]
    response = client.post("/api/v1/files", files={"file": ("big.csv", b"x" * 5000)})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "PayloadTooLarge"
    files_dir = settings.home / "files"
    leftovers = [p for p in files_dir.rglob("*") if p.is_file()] if files_dir.exists() else []
    assert not [p for p in leftovers if p.stat().st_size >= 1000]
