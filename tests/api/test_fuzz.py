"""The API fuzzed from its own OpenAPI document with schemathesis, in process against the
ASGI app on the suite's database and Redis, as an admin.

Every operation gets a bounded number of generated requests (valid and invalid), with a
fixed seed so a run is repeatable; every schemathesis check runs on each answer (no 5xx,
the status code is documented, the body matches the documented schema, the content type
and `Allow` header are the documented ones, ...) but two, excluded with their reason:

- `positive_data_acceptance`: some rules cannot be said in JSON Schema — a schedule
  needs exactly one of `interval_s` and `cron`, an alert needs a service, labels or a
  message, an expiry must parse, text must hold no NUL — so schema-valid data can earn a
  documented 422 with its reason;
- `negative_data_rejection`: params are validated by pydantic in its lax mode, as
  FastAPI does, so `false` or `0.0` for an integer field is taken as 0.

No operation is excluded: jobs it submits stay queued (no worker runs in this test).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from api.main import create_app
from core.config import Settings
from tests.api.conftest import TOKEN
from tests.conftest import clear_tables

EXAMPLES_PER_OPERATION = 5


def _document_app() -> FastAPI:
    """An app built only to serve its OpenAPI document at collection time (the requests
    go to `app` below, on the suite's services)."""
    home = tempfile.mkdtemp(prefix="triops-fuzz-")
    return create_app(Settings.from_env({"TRIOPS_HOME": home, "TRIOPS_API_TOKEN": TOKEN}))


schema = schemathesis.openapi.from_asgi("/openapi.json", _document_app())


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[FastAPI]:
    clear_tables(settings)
    served = create_app(settings)
    with TestClient(served):  # runs the app's startup, as a server would
        yield served


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_every_generated_request_as_documented(
    app: FastAPI, case: schemathesis.Case
) -> None:
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[
            schemathesis.checks.positive_data_acceptance,
            schemathesis.checks.negative_data_rejection,
        ],
    )
