"""Jobs through the HTTP API → Redis → real worker processes → SQL."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from core.broker import create_celery
from core.db import session_scope
from core.jobs import create_job, get_job
from core.kinds import get_kind
from core.tables import JobStatus
from tests.integration.conftest import TOKEN, Stack, active_task_pid

pytestmark = pytest.mark.integration


def download(stack: Stack, job_id: str, name: str) -> bytes:
    response = httpx.get(
        f"{stack.api_url}/api/v1/jobs/{job_id}/artifacts/{name}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200, response.text
    return response.content


def test_a_log_file_is_parsed_on_an_aiops_worker(stack: Stack, benchmarks_dir: Path) -> None:
    with stack.client() as client:
        log = client.upload(benchmarks_dir / "loghub" / "HDFS" / "HDFS_2k.log")
        job = client.submit(
            "aiops.parse_logs",
            {
                "file_id": log["id"],
                "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
            },
        )
        done = client.wait(job["id"], timeout_s=60)
    assert done["status"] == "succeeded", done["error"]
    assert done["worker"].startswith("aiops@")
    result = done["result"]
    assert result["lines"] == 2000
    assert result["unmatched_lines"] == 0
    assert 10 <= result["template_count"] <= 30
    assert sum(t["count"] for t in result["templates"]) == 2000
    rows = list(csv.DictReader(io.StringIO(download(stack, job["id"], "structured.csv").decode())))
    assert len(rows) == 2000
    assert {"LineId", "EventId", "EventTemplate", "Level", "Component"} <= set(rows[0])


def test_a_model_is_trained_on_an_mlops_worker_with_a_checksummed_artifact(stack: Stack) -> None:
    with stack.client() as client:
        job = client.submit("mlops.train", {"dataset": "sklearn:breast_cancer"})
        done = client.wait(job["id"], timeout_s=90)
        artifacts = client.http.get(f"/jobs/{job['id']}/artifacts").json()
    assert done["status"] == "succeeded", done["error"]
    assert done["worker"].startswith("mlops@")
    assert done["result"]["metrics"]["accuracy"] > 0.9
    model = download(stack, job["id"], "model.joblib")
    assert hashlib.sha256(model).hexdigest() == done["result"]["artifact"]["sha256"]
    assert [a["name"] for a in artifacts] == ["model.joblib"]
    assert artifacts[0]["sha256"] == done["result"]["artifact"]["sha256"]


def test_a_csv_is_profiled_on_a_dataops_worker(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "hosts.csv"
    path.write_text("host,cpu,region\na,1.5,eu\nb,,us\nc,3.5,eu\n")
    with stack.client() as client:
        uploaded = client.upload(path)
        done = client.wait(client.submit("dataops.profile", {"file_id": uploaded["id"]})["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["worker"].startswith("dataops@")
    profile = {c["name"]: c for c in done["result"]["profile"]}
    assert done["result"]["rows"] == 3
    assert profile["cpu"]["nulls"] == 1 and profile["cpu"]["mean"] == 2.5
    assert profile["region"]["top"][0] == {"value": "eu", "count": 2}


def test_a_job_whose_task_raises_fails_with_its_error_and_the_worker_keeps_serving(
    stack: Stack,
) -> None:
    with stack.client() as client:
        failed = client.wait(client.submit("system.echo", {"fail_with": "boom"})["id"])
        ok = client.wait(client.submit("system.echo", {"payload": "still here"})["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == {"type": "InvalidInput", "message": "boom"}
    assert ok["status"] == "succeeded" and ok["result"]["payload"] == "still here"


def test_a_file_that_is_not_a_csv_fails_the_profile_job_with_a_clear_message(
    stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b'a,b\n1,"unterminated\n2,3,4,5\n')
    with stack.client() as client:
        uploaded = client.upload(path)
        done = client.wait(client.submit("dataops.profile", {"file_id": uploaded["id"]})["id"])
    assert done["status"] == "failed"
    assert done["error"]["type"] == "InvalidInput"
    assert "has no readable rows" in done["error"]["message"]
    assert "a quoted field opened on line 2 is never closed" in done["error"]["message"]


def test_a_killed_worker_process_does_not_lose_the_job(stack: Stack) -> None:
    with stack.client() as client:
        job = client.submit("system.echo", {"payload": "survivor", "sleep_s": 3})
        os.kill(active_task_pid(stack, job["id"]), signal.SIGKILL)
        done = client.wait(job["id"], timeout_s=60)
    assert done["status"] == "succeeded"
    assert done["result"]["payload"] == "survivor"
    assert done["attempts"] == 2


def test_cancelling_a_running_job_stops_it_for_good(stack: Stack) -> None:
    with stack.client() as client:
        job = client.submit("system.echo", {"sleep_s": 30})
        active_task_pid(stack, job["id"])
        cancelled = client.http.post(f"/jobs/{job['id']}/cancel").json()
        assert cancelled["status"] == "cancelled"
        time.sleep(2)
        assert client.job(job["id"])["status"] == "cancelled"
        # The pool that ran it still serves.
        assert client.wait(client.submit("system.echo", {})["id"])["status"] == "succeeded"


def test_housekeeping_resends_a_lost_message_and_fails_a_job_lost_too_often(
    stack: Stack,
) -> None:
    kind = get_kind("system.echo")
    with session_scope(stack.settings) as session:
        # Rows written as the API would, but whose messages never reached Redis.
        lost, _ = create_job(
            session=session, kind=kind, params=kind.validate({"payload": 7}).model_dump(mode="json")
        )
        hopeless, _ = create_job(
            session=session, kind=kind, params=kind.validate({}).model_dump(mode="json")
        )
        hopeless.resends = stack.settings.max_resends
    time.sleep(1.2)
    with stack.client() as client:
        sweep = client.wait(client.submit("system.housekeeping", {"lost_after_s": 1})["id"])
        assert sweep["status"] == "succeeded", sweep["error"]
        assert lost.id in sweep["result"]["resent"]
        assert hopeless.id in sweep["result"]["failed"]
        recovered = client.wait(lost.id, timeout_s=30)
    assert recovered["status"] == "succeeded"
    assert recovered["resends"] == 1
    assert "re-sent by housekeeping" in recovered["note"]
    with session_scope(stack.settings) as session:
        failed = get_job(session=session, job_id=hopeless.id)
        assert failed.status == JobStatus.FAILED
        assert failed.error is not None and failed.error["type"] == "MessageLost"


def test_a_redelivered_message_of_a_finished_job_does_not_run_it_again(stack: Stack) -> None:
    with stack.client() as client:
        done = client.wait(client.submit("system.echo", {"payload": 1})["id"])
        create_celery(stack.settings).send_task("system.echo", task_id=done["id"], queue="system")
        time.sleep(2)
        again = client.job(done["id"])
    assert again["attempts"] == 1
    assert again["finished_at"] == done["finished_at"]


def test_transient_failures_are_retried_with_backoff_up_to_the_attempt_limit(
    stack: Stack,
) -> None:
    with stack.client() as client:
        recovered = client.wait(
            client.submit("system.echo", {"payload": "ok", "transient_failures": 2})["id"],
            timeout_s=60,
        )
        exhausted = client.wait(
            client.submit("system.echo", {"transient_failures": 5})["id"], timeout_s=60
        )
    assert recovered["status"] == "succeeded" and recovered["attempts"] == 3
    assert exhausted["status"] == "failed" and exhausted["attempts"] == 3
    assert exhausted["error"]["type"] == "Unavailable"
