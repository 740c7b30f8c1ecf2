"""A broker or database that is down is a 503 with a plain message, never a 500."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from api.main import create_app
from core.config import Settings
from tests.conftest import clear_tables


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_submitting_with_the_broker_down_is_503_and_the_job_is_not_left_queued(
    settings: Settings,
) -> None:
    clear_tables(settings)
    down = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed_port()}/0"})
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = "Bearer test-token-0123456789"
        response = client.post("/api/v1/jobs", json={"kind": "system.echo", "params": {}})
        assert response.status_code == 503
        assert "broker" in response.json()["error"]["message"]
        jobs = client.get("/api/v1/jobs").json()["jobs"]
        assert [j["status"] for j in jobs] == ["failed"]
        assert jobs[0]["error"]["type"] == "Unavailable"
        health = client.get("/api/v1/health")
        assert health.status_code == 503
        assert health.json()["broker"]["ok"] is False


def test_the_database_down_is_503(settings: Settings) -> None:
    down = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x"}
    )
    with TestClient(create_app(down), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = "Bearer test-token-0123456789"
        response = client.get("/api/v1/jobs")
        assert response.status_code == 503
        assert response.json()["error"]["message"].startswith("the database is unavailable")
        assert client.get("/api/v1/health").status_code == 503
