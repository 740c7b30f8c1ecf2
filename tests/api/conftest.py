from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from bench.stack import free_port
from core.broker import create_celery
from core.config import Settings
from tests.conftest import clear_tables

TOKEN = "test-token-0123456789"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API against the real database and Redis, emptied before each test."""
    clear_tables(settings)
    with create_celery(settings).connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


def upload(client: TestClient, content: bytes, name: str = "data.csv") -> dict[str, object]:
    response = client.post("/api/v1/files", files={"file": (name, content, "text/csv")})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture(scope="module")
def live_api(settings: Settings) -> Iterator[str]:
    """The API served by uvicorn on a loopback port, in this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the API did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
