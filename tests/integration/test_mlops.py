"""The model lifecycle end to end: train → evaluate → deploy → predict (online and batch)
→ drift → rollback, through the HTTP API on a real mlops worker."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from tests.integration.conftest import Stack
from workers.client import TriopsClient

pytestmark = pytest.mark.integration

MODEL = "cancer-it"


def run(
    client: TriopsClient, kind: str, params: dict[str, Any], timeout_s: float = 120
) -> dict[str, Any]:
    done = client.wait(client.submit(kind, params)["id"], timeout_s=timeout_s)
    assert done["status"] == "succeeded", done["error"]
    assert done["worker"].startswith("mlops@")
    return done["result"]


def records(n: int = 3, *, drop: str | None = None, extra: bool = False) -> list[dict[str, Any]]:
    frame = load_breast_cancer(as_frame=True).data.head(n)
    rows = frame.to_dict(orient="records")
    for row in rows:
        if drop:
            row.pop(drop)
        if extra:
            row["colour"] = "blue"
    return rows


def test_the_model_lifecycle_through_the_api(stack: Stack, tmp_path: Path) -> None:
    with stack.client() as client:
        http = client.http
        v1 = run(
            client,
            "mlops.train",
            {
                "dataset": "sklearn:breast_cancer",
                "model": MODEL,
                "estimator": "logistic_regression",
                "cv_folds": 3,
            },
        )
        assert v1["version"] == 1 and v1["metrics"]["accuracy"] > 0.9 and v1["cv"]

        refused = http.post(
            "/jobs", json={"kind": "mlops.deploy", "params": {"model": MODEL, "version": 1}}
        )
        assert refused.status_code == 409
        assert "never been evaluated" in refused.json()["error"]["message"]

        verdict = run(
            client,
            "mlops.evaluate",
            {
                "model": MODEL,
                "version": 1,
                "dataset": "sklearn:breast_cancer",
                "thresholds": {"min": {"accuracy": 0.9}},
            },
        )
        assert verdict["verdict"] == "passed"
        deployed = run(client, "mlops.deploy", {"model": MODEL, "version": 1})
        assert deployed["to_version"] == 1 and deployed["from_version"] is None

        answer = http.post(f"/models/{MODEL}/predict", json={"records": records()}).json()
        assert answer["version"] == 1 and len(answer["predictions"]) == 3
        assert set(answer["probabilities"][0]) == {"0", "1"}
        missing = http.post(
            f"/models/{MODEL}/predict", json={"records": records(drop="mean radius")}
        )
        assert missing.status_code == 422 and missing.json()["error"]["details"]["missing"] == [
            "mean radius"
        ]
        extra = http.post(f"/models/{MODEL}/predict", json={"records": records(extra=True)})
        assert extra.status_code == 422 and extra.json()["error"]["details"]["extra"] == ["colour"]

        v2 = run(
            client,
            "mlops.train",
            {
                "dataset": "sklearn:breast_cancer",
                "model": MODEL,
                "estimator": "random_forest",
                "params": {"n_estimators": 50},
            },
        )
        assert v2["version"] == 2
        gate = run(
            client,
            "mlops.evaluate",
            {
                "model": MODEL,
                "version": 2,
                "dataset": "sklearn:breast_cancer",
                "compare_to": "production",
                "thresholds": {"max_drop": {"accuracy": 0.05}},
            },
        )
        assert gate["verdict"] == "passed" and gate["live_version"] == 1
        run(client, "mlops.deploy", {"model": MODEL, "version": 2, "reason": "better recall"})
        # Serving follows the alias at once, without a restart.
        assert (
            http.post(f"/models/{MODEL}/predict", json={"records": records(1)}).json()["version"]
            == 2
        )

        batch = run(
            client, "mlops.predict_batch", {"model": MODEL, "dataset": "sklearn:breast_cancer"}
        )
        assert batch["version"] == 2 and batch["rows"] == 569

        same = run(
            client, "mlops.check_drift", {"model": MODEL, "dataset": "sklearn:breast_cancer"}
        )
        assert same["drift"] is False
        shifted = load_breast_cancer(as_frame=True).frame
        shifted = shifted[shifted["mean radius"] > shifted["mean radius"].median()]
        path = tmp_path / "big-tumours.csv"
        shifted.to_csv(path, index=False)
        uploaded = client.upload(path)
        drifted = run(
            client,
            "mlops.check_drift",
            {"model": MODEL, "file_id": uploaded["id"], "target": "target", "on_drift": "retrain"},
        )
        assert drifted["drift"] is True and "mean radius" in drifted["drifted_features"]
        retrain = client.wait(drifted["retrain_job_id"], timeout_s=120)
        assert retrain["status"] == "succeeded" and retrain["result"]["version"] == 3
        # It trained on the file just checked (it holds the target), not on v2's data.
        assert retrain["params"]["file_id"] == uploaded["id"]
        assert retrain["params"]["target"] == "target"
        assert retrain["result"]["data_fingerprint"] != v2["data_fingerprint"]
        v3_rows = retrain["result"]["train_rows"] + retrain["result"]["test_rows"]
        assert v3_rows == len(shifted)

        back = run(client, "mlops.rollback", {"model": MODEL, "reason": "v2 misbehaves"})
        assert (back["from_version"], back["to_version"]) == (2, 1)
        assert (
            http.post(f"/models/{MODEL}/predict", json={"records": records(1)}).json()["version"]
            == 1
        )
        history = http.get(f"/models/{MODEL}/deployments").json()
        assert [(d["action"], d["from_version"], d["to_version"]) for d in history] == [
            ("deploy", None, 1),
            ("deploy", 1, 2),
            ("rollback", 2, 1),
        ]
        model = http.get(f"/models/{MODEL}").json()
        assert model["aliases"] == {"production": 1} and model["latest_version"] == 3
        detail = http.get(f"/models/{MODEL}/versions/1").json()
        assert (
            detail["aliases"] == ["production"] and detail["evaluations"][0]["verdict"] == "passed"
        )
        assert detail["lineage"]["data_fingerprint"] == v1["data_fingerprint"]
        assert len(http.get(f"/models/{MODEL}/drift").json()) == 2
        assert (
            http.post(
                "/jobs", json={"kind": "mlops.rollback", "params": {"model": MODEL}}
            ).status_code
            == 409
        )


def test_a_tampered_artifact_is_refused_and_never_unpickled(stack: Stack, tmp_path: Path) -> None:
    with stack.client() as client:
        trained = run(client, "mlops.train", {"dataset": "sklearn:iris", "model": "tamper-it"})
        job = client.jobs(kind="mlops.train", limit=50)["jobs"]
        train_job = next(j for j in job if (j["result"] or {}).get("model") == "tamper-it")
        marker = tmp_path / "unpickled"

        class Exploit:
            def __reduce__(self) -> tuple[Any, ...]:
                return (os.system, (f"touch {marker}",))

        artifact = Path(stack.settings.artifacts_url) / train_job["id"] / "model.joblib"
        artifact.write_bytes(pickle.dumps(Exploit()))
        response = client.http.post(
            "/models/tamper-it/predict",
            params={"version": trained["version"]},
            json={
                "records": [
                    {
                        "sepal length (cm)": 5.1,
                        "sepal width (cm)": 3.5,
                        "petal length (cm)": 1.4,
                        "petal width (cm)": 0.2,
                    }
                ]
            },
        )
        batch = client.wait(
            client.submit(
                "mlops.predict_batch",
                {"model": "tamper-it", "version": 1, "dataset": "sklearn:iris"},
            )["id"]
        )
    assert response.status_code == 503
    assert "checksum" in response.json()["error"]["message"]
    assert batch["status"] == "failed" and batch["error"]["type"] == "ChecksumMismatch"
    assert not marker.exists()


def test_a_pipeline_stops_at_a_failed_gate_and_deploys_when_it_passes(stack: Stack) -> None:
    train = {"kind": "mlops.train", "params": {"dataset": "sklearn:wine", "model": "wine-it"}}
    deploy = {"kind": "mlops.deploy", "params": {"model": "wine-it"}}

    def evaluate(minimum: float) -> dict[str, Any]:
        return {
            "kind": "mlops.evaluate",
            "params": {
                "model": "wine-it",
                "dataset": "sklearn:wine",
                "gate": True,
                "thresholds": {"min": {"accuracy": minimum}},
            },
        }

    with stack.client() as client:
        http = client.http
        blocked = http.post("/pipelines", json={"steps": [train, evaluate(1.01), deploy]}).json()
        for step in blocked["steps"]:
            client.wait(step["id"], timeout_s=120)
        blocked = http.get(f"/pipelines/{blocked['id']}").json()
        assert blocked["status"] == "failed" and blocked["stopped_at"] == 1
        assert "failed its gate" in blocked["reason"]
        assert blocked["steps"][2]["status"] == "cancelled"
        assert blocked["steps"][2]["error"]["type"] == "Skipped"
        assert http.get("/models/wine-it").json()["aliases"] == {}

        passed = http.post("/pipelines", json={"steps": [train, evaluate(0.8), deploy]}).json()
        for step in passed["steps"]:
            client.wait(step["id"], timeout_s=120)
        passed = http.get(f"/pipelines/{passed['id']}").json()
        assert passed["status"] == "succeeded", passed
        version = passed["steps"][0]["result"]["version"]
        assert http.get("/models/wine-it").json()["aliases"] == {"production": version}


def test_training_on_an_uploaded_csv_with_categories_and_gaps(stack: Stack, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "plan": ["basic", "pro", "basic", None, "pro", "team"] * 30,
            "seats": [1, 5, 2, 3, None, 12] * 30,
            "churned": [1, 0, 1, 0, 0, 1] * 30,
        }
    )
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    with stack.client() as client:
        uploaded = client.upload(path)
        result = run(
            client,
            "mlops.train",
            {"file_id": uploaded["id"], "target": "churned", "model": "churn-it"},
        )
        missing = client.wait(
            client.submit(
                "mlops.train",
                {"file_id": uploaded["id"], "target": "cancelled", "model": "churn-it"},
            )["id"]
        )
    assert result["task"] == "classification" and result["features"] == 2
    assert missing["status"] == "failed" and "cancelled" in missing["error"]["message"]


def test_a_ragged_line_is_reported_by_training_and_profiling_not_a_pandas_error(
    stack: Stack, tmp_path: Path
) -> None:
    lines = ["plan,seats,churned"] + [f"{p},{s},{c}" for p, s, c in [("basic", 1, 1)] * 60]
    lines += ["pro,5,0"] * 60
    lines.insert(11, "team,12,1,surplus")  # line 12 of the file has one field too many
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    with stack.client() as client:
        uploaded = client.upload(path)
        trained = run(
            client,
            "mlops.train",
            {"file_id": uploaded["id"], "target": "churned", "model": "ragged-it"},
        )
        profiled = client.wait(
            client.submit("dataops.profile", {"file_id": uploaded["id"]})["id"], timeout_s=60
        )
    expected = {"count": 1, "lines": [{"line": 12, "reason": "expected 3 fields, found 4"}]}
    assert trained["broken_lines"] == expected
    assert trained["train_rows"] + trained["test_rows"] == 120
    assert profiled["status"] == "succeeded", profiled["error"]
    assert profiled["result"]["broken_lines"] == expected
    assert profiled["result"]["rows"] == 120


def test_a_log_file_is_refused_where_a_table_is_expected(stack: Stack) -> None:
    log = Path(__file__).resolve().parents[2] / "bench" / "data" / "loghub" / "HDFS" / "HDFS_2k.log"
    with stack.client() as client:
        uploaded = client.upload(log)
        for kind, params in [
            ("dataops.profile", {"file_id": uploaded["id"]}),
            ("mlops.train", {"file_id": uploaded["id"], "target": "x", "model": "log-it"}),
        ]:
            response = client.http.post("/jobs", json={"kind": kind, "params": params})
            assert response.status_code == 422, response.text
            message = response.json()["error"]["message"]
            assert "is a log, not a table" in message and "aiops.parse_logs" in message
