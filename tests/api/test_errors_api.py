"""Every mistake a user makes gets a 4xx that names what was wrong and what is accepted,
in one error shape, and changes nothing; the OpenAPI document says so."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from api.schemas.jobs import ErrorBody
from core.kinds import CATALOG
from tests.api.conftest import upload

UUID = "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error of a response, after checking its status and its one shape."""
    assert response.status_code == status, response.text
    body = response.json()
    ErrorBody.model_validate(body)
    assert isinstance(body["detail"], str) and body["detail"] == body["error"]["message"]
    assert "^" not in body["detail"] and "pattern" not in body["detail"]  # no regex shown
    error: dict[str, Any] = body["error"]
    return error


def job_count(client: TestClient) -> int:
    return len(client.get("/api/v1/jobs").json()["jobs"])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": ""}, "missing bearer token"),
        ({"Authorization": "Bearer wrong"}, "invalid token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token"),
    ],
)
def test_a_missing_or_wrong_token_is_401(
    client: TestClient, headers: dict[str, str], message: str
) -> None:
    error = error_of(client.get("/api/v1/jobs", headers=headers), 401)
    assert message in error["message"]


def test_a_param_typo_suggests_the_near_name_and_lists_the_known_ones(
    client: TestClient,
) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "mlops.train", "params": {"dataset": "sklearn:iris", "estimater": "x"}},
    )
    error = error_of(response, 422)
    [problem] = error["details"]
    assert problem["loc"] == ["params", "estimater"]
    assert "did you mean 'estimator'?" in problem["msg"] and "test_size" in problem["msg"]
    assert "params.estimater" in error["message"]
    assert job_count(client) == 0


def test_an_unknown_bundled_dataset_says_which_are_known(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs", json={"kind": "mlops.train", "params": {"dataset": "sklearn:irises"}}
    )
    message = error_of(response, 422)["message"]
    assert "unknown dataset 'sklearn:irises'" in message
    assert "sklearn:iris" in message and "dataset:NAME@VERSION" in message


def test_an_unknown_dataset_version_says_which_datasets_are_known(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs", json={"kind": "dataops.profile", "params": {"dataset": "sales@1"}}
    )
    error = error_of(response, 404)
    assert "dataset 'sales' not found; known: none yet" in error["message"]


@pytest.mark.parametrize(
    ("file_id", "status", "needle"),
    [
        ("abc", 422, "'abc' is not a file id: upload the file with POST /api/v1/files"),
        (UUID, 422, f"unknown file_id {UUID}: upload it first with POST /api/v1/files"),
    ],
)
def test_a_malformed_or_unknown_file_id_says_how_to_get_one(
    client: TestClient, file_id: str, status: int, needle: str
) -> None:
    response = client.post(
        "/api/v1/jobs", json={"kind": "dataops.profile", "params": {"file_id": file_id}}
    )
    assert needle in error_of(response, status)["message"]


def test_malformed_json_says_where(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        content=b'{"kind": "system.echo",\n  "params": {"payload": 1,}}',
        headers={"Content-Type": "application/json"},
    )
    message = error_of(response, 422)["message"]
    assert message.startswith("malformed JSON at line 2, column 27:")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_a_json_content_type_says_so(
    client: TestClient, content_type: str
) -> None:
    response = client.post(
        "/api/v1/jobs",
        content=b'{"kind": "system.echo", "params": {}}',
        headers={"Content-Type": content_type},
    )
    error = error_of(response, 415)
    assert "Content-Type: application/json" in error["message"] and content_type in error["message"]
    assert job_count(client) == 0


def test_an_unknown_status_or_kind_filter_lists_the_accepted_values(client: TestClient) -> None:
    status = error_of(client.get("/api/v1/jobs", params={"status": "done"}), 422)
    assert "'queued'" in status["message"] and "'succeeded'" in status["message"]
    incidents = error_of(client.get("/api/v1/incidents", params={"status": "closed"}), 422)
    assert "'open', 'acknowledged' or 'resolved'" in incidents["message"]
    severity = error_of(client.get("/api/v1/incidents", params={"severity": "urgent"}), 422)
    assert "'critical'" in severity["message"]
    kind = error_of(client.get("/api/v1/jobs", params={"kind": "nope"}), 422)
    assert "unknown job kind 'nope'" in kind["message"]
    assert "system.echo" in kind["details"]["known_kinds"]


def test_a_batch_with_one_bad_job_names_its_index_and_submits_none(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs:batch",
        json={"jobs": [{"kind": "system.echo"}, {"kind": "system.echo", "params": {"x": 1}}]},
    )
    error = error_of(response, 422)
    assert error["details"][0]["index"] == 1 and "unknown field 'x'" in str(error["details"])
    assert job_count(client) == 0


def test_a_log_uploaded_for_a_profile_is_refused_at_submit(client: TestClient) -> None:
    stored = upload(client, b"2026-01-01 INFO started\n", name="app.log")
    response = client.post(
        "/api/v1/jobs", json={"kind": "dataops.profile", "params": {"file_id": stored["id"]}}
    )
    assert "is a log, not a table" in error_of(response, 422)["message"]


def test_the_openapi_document_describes_the_error_shape_and_every_4xx(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    assert "ErrorBody" in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if operation.get("security"):
                assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if operation.get("requestBody") or operation.get("parameters"):
                assert "422" in responses, (method, path)
            for status, response in responses.items():
                if status[0] == "4":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, status)


def test_post_jobs_documents_each_kinds_params_with_a_valid_example(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    submit = document["components"]["schemas"]["JobSubmit"]
    assert set(submit["discriminator"]["mapping"]) == set(CATALOG)
    examples = document["paths"]["/api/v1/jobs"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    assert set(examples) == set(CATALOG)
    for name, kind in CATALOG.items():
        variant = document["components"]["schemas"]["Submit_" + name.replace(".", "_")]
        params_ref = variant["properties"]["params"]["$ref"].rsplit("/", 1)[-1]
        assert params_ref == kind.params_model.__name__
        kind.validate(examples[name]["value"]["params"])


def test_the_api_docs_load_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs", headers={"Authorization": ""})
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in page.text
        served = client.get(f"/static-offline-docs/{asset}", headers={"Authorization": ""})
        assert served.status_code == 200 and len(served.content) > 10_000


def test_the_error_body_schema_accepts_what_the_api_sends(client: TestClient) -> None:
    adapter = TypeAdapter(ErrorBody)
    for response in (
        client.get("/api/v1/jobs/nope"),
        client.post("/api/v1/jobs", json={"kind": "nope"}),
        client.get("/api/v1/jobs", headers={"Authorization": ""}),
    ):
        adapter.validate_python(response.json())
