"""A batch's jobs of one kind go to the broker as bundles (core/bundles.py): real API,
database and Redis, no worker on the queue, so the messages can be read as sent."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.broker import create_celery, message_ids_in_broker, queue_lengths
from core.config import Settings
from tests.api.conftest import TOKEN


def _echo(count: int) -> list[dict[str, object]]:
    return [{"kind": "system.echo", "params": {"payload": i}} for i in range(count)]


def _sent(settings: Settings, bundle_jobs: int, jobs: list[dict[str, object]]) -> list[str]:
    app = create_app(settings.model_copy(update={"bundle_jobs": bundle_jobs}))
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        answer = client.post("/api/v1/jobs:batch", json={"jobs": jobs})
        assert answer.status_code == 202, answer.text
        return [job["id"] for job in answer.json()["jobs"]]


@pytest.mark.parametrize(
    ("bundle_jobs", "messages"),
    [(50, 1), (3, 3), (1, 7)],  # 7 jobs: one bundle; 3 + 3 + 1 alone; each alone
)
def test_a_batch_sends_its_jobs_of_a_kind_in_bundles_of_the_configured_size(
    client: TestClient, settings: Settings, bundle_jobs: int, messages: int
) -> None:
    ids = _sent(settings, bundle_jobs, _echo(7))
    celery = create_celery(settings)
    assert queue_lengths(celery, ["system"]) == {"system": messages}
    # Housekeeping finds every job inside the bundles: none is taken for lost.
    assert set(ids) == message_ids_in_broker(celery, ["system"])


def test_each_kind_gets_its_own_bundles_on_its_own_queue(
    client: TestClient, settings: Settings
) -> None:
    jobs = _echo(4)
    jobs.insert(1, {"kind": "system.retention", "params": {}})
    ids = _sent(settings, 50, jobs)
    celery = create_celery(settings)
    # The echo jobs in one bundle; the only retention job of the batch alone.
    assert queue_lengths(celery, ["system"]) == {"system": 2}
    assert set(ids) == message_ids_in_broker(celery, ["system"])


def test_a_single_submit_is_one_message_whose_id_is_the_job_id(
    client: TestClient, settings: Settings
) -> None:
    answer = client.post("/api/v1/jobs", json=_echo(1)[0])
    assert answer.status_code == 202
    assert message_ids_in_broker(create_celery(settings), ["system"]) == {answer.json()["id"]}
