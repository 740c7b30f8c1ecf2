"""MLOps bad input over HTTP: refused at submit with the reason, nothing queued."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def submit(client: TestClient, kind: str, params: dict[str, Any]) -> Any:
    return client.post("/api/v1/jobs", json={"kind": kind, "params": params})


def details(response: Any) -> str:
    return str(response.json()["error"])


def test_an_unknown_estimator_is_422_listing_the_allowed_ones(client: TestClient) -> None:
    response = submit(client, "mlops.train", {"dataset": "sklearn:iris", "estimator": "os.system"})
    assert response.status_code == 422
    assert "random_forest" in details(response)


def test_an_unknown_or_mistyped_estimator_param_is_422_naming_it(client: TestClient) -> None:
    unknown = submit(
        client,
        "mlops.train",
        {"dataset": "sklearn:iris", "estimator": "random_forest", "params": {"n_trees": 10}},
    )
    assert unknown.status_code == 422 and "n_trees" in details(unknown)
    mistyped = submit(
        client,
        "mlops.train",
        {
            "dataset": "sklearn:iris",
            "estimator": "random_forest",
            "params": {"n_estimators": "ten"},
        },
    )
    assert mistyped.status_code == 422 and "n_estimators" in details(mistyped)


def test_an_uploaded_csv_without_a_target_is_422(client: TestClient) -> None:
    response = submit(
        client,
        "mlops.train",
        {"file_id": "00000000-0000-4000-8000-000000000000", "model": "m"},
    )
    assert response.status_code == 422 and "target" in details(response)


def test_unknown_models_versions_and_aliases_are_404(client: TestClient) -> None:
    assert client.get("/api/v1/models/nope").status_code == 404
    assert client.get("/api/v1/models/nope/versions/1").status_code == 404
    assert client.get("/api/v1/models/nope/deployments").status_code == 404
    predict = client.post("/api/v1/models/nope/predict", json={"records": [{"a": 1}]})
    assert predict.status_code == 404
    assert submit(client, "mlops.deploy", {"model": "nope", "version": 1}).status_code == 404
    assert submit(client, "mlops.rollback", {"model": "nope"}).status_code == 404
    assert client.get("/api/v1/pipelines/nope").status_code == 404


def test_forcing_a_deployment_needs_a_reason(client: TestClient) -> None:
    response = submit(client, "mlops.deploy", {"model": "m", "version": 1, "force": True})
    assert response.status_code == 422 and "reason" in details(response)


def test_a_pipeline_with_a_bad_step_submits_nothing(client: TestClient) -> None:
    response = client.post(
        "/api/v1/pipelines",
        json={
            "steps": [
                {"kind": "mlops.train", "params": {"dataset": "sklearn:iris"}},
                {"kind": "mlops.evaluate", "params": {"model": "iris", "dataset": "nope"}},
            ]
        },
    )
    assert response.status_code == 422
    assert [d["index"] for d in response.json()["error"]["details"]] == [1]
    assert client.get("/api/v1/jobs").json()["jobs"] == []
