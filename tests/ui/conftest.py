"""The console's tests: pages through FastAPI's TestClient on seeded rows, and (marked
integration) a real headless Chromium against the live stack of tests/integration."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.broker import create_celery
from core.config import Settings
from tests.conftest import clear_tables, skip_or_fail
from tests.integration.conftest import Stack
from tests.ui.browser import chromium_path, launch
from tests.ui.seed import Seeded, seed

TOKEN = "test-token-0123456789"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "ui-screenshots"


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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """Keep each phase's report on the test, so a fixture can tell that the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (no browser is downloaded)."""
    executable = chromium_path()
    if executable is None:
        skip_or_fail("no chromium found (apt-get install chromium; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    assert executable is not None
    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(
    chromium: Any,
    stack: Stack,
    request: pytest.FixtureRequest,
) -> Iterator[Any]:
    """A fresh browser context on the live stack; a screenshot of the page when the test
    fails, under var/ui-screenshots/."""
    context = chromium.new_context(base_url=stack.api_url, accept_downloads=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
