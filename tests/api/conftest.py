from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
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
