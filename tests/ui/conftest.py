"""The console's tests: pages through FastAPI's TestClient on seeded rows, and (marked
integration) a real headless Chromium against the live stack of tests/integration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.broker import create_celery
from core.config import Settings
from tests.conftest import clear_tables
from tests.integration.conftest import stack, webhook_sink  # noqa: F401 - the live stack
from tests.ui.seed import Seeded, seed

TOKEN = "test-token-0123456789"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, token: str = TOKEN) -> str:
    """Sign `client` in; the session's CSRF token."""
    form = client.get("/ui/sign-in")
    response = client.post(
        "/ui/sign-in",
        data={"token": token, "csrf": csrf_of(form.text), "next": "/ui"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/ui").text)


@dataclass
class Console:
    client: TestClient
    csrf: str
    seeded: Seeded


@pytest.fixture
def anonymous(settings: Settings) -> Iterator[TestClient]:
    """The app on an emptied database, nobody signed in."""
    clear_tables(settings)
    with create_celery(settings).connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def console(anonymous: TestClient, settings: Settings) -> Console:
    """Signed in as the admin, on seeded rows of every kind the console shows."""
    seeded = seed(settings)
    return Console(client=anonymous, csrf=sign_in(anonymous), seeded=seeded)
