"""The console in a real headless Chromium against the live stack (the API and one worker
per pool as processes), with data seeded through the HTTP API."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.ui.browser import sign_in
from tests.ui.conftest import TOKEN
from workers.client import TriopsClient

pytestmark = pytest.mark.integration

LIVE_S = 30_000  # ms: a job's page updates itself until the job is finished


def run(client: TriopsClient, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    done = client.wait(client.submit(kind, params)["id"], timeout_s=120)
    assert done["status"] == "succeeded", done["error"]
    return done


def nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def status_is(page: Any, status: str) -> None:
    page.locator("#h-state + div .badge", has_text=status).wait_for(timeout=LIVE_S)


def test_sign_in_and_a_wrong_token_is_refused(browser_page: Any, stack: Stack) -> None:
    page = browser_page
    page.goto("/ui/jobs")
    assert page.url.endswith("/ui/sign-in?next=%2Fui%2Fjobs")
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").filter(has_text="That token is not valid.").wait_for()
    assert page.get_by_role("navigation", name="Main").count() == 0
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Jobs", exact=True).wait_for()
    page.goto("/ui")
    # The health block arrives by itself (a live part): every pool has its worker.
    pools = page.get_by_role("table", name=re.compile("^Pools"))
    pools.wait_for(timeout=LIVE_S)
    for pool in ("aiops", "mlops", "dataops"):
        assert "1 up" in pools.get_by_role("row", name=re.compile(f"^{pool} ")).inner_text()


def alert(service: str, name: str, **labels: str) -> dict[str, Any]:
    """One firing alert as Alertmanager sends it."""
    return {
        "status": "firing",
        "labels": {"alertname": name, "service": service, "severity": "critical", **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
    }


def test_an_incident_is_acknowledged_then_resolved_and_a_stale_ack_is_refused(
    browser_page: Any, stack: Stack
) -> None:
    tag = uuid.uuid4().hex[:6]
    pay, cart = f"pay-{tag}", f"cart-{tag}"
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "triops",
        "alerts": [
            alert(pay, "ErrorBudgetBurn", team="<script>alert('label')</script>"),
            alert(cart, "HighLatency"),
        ],
    }
    with stack.client() as client:
        accepted = client.http.post("/alerts", json=payload).json()
        done = client.wait(accepted["correlation_job_id"], timeout_s=60)
        opened = {
            client.http.get(f"/incidents/{i}").json()["services"][0]: i
            for i in done["result"]["incidents_opened"]
        }
        page = browser_page
        sign_in(page, stack.api_url, TOKEN)
        nav(page, "Incidents")
        page.get_by_role("link", name=f"{pay}: ErrorBudgetBurn on {pay}").click()
        page.get_by_text("team=<script>alert('label')</script>").wait_for()  # shown as text
        page.get_by_label("Note with the change (optional)").fill("on it")
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_role("status").filter(has_text="Acknowledged.").wait_for()
        assert "acknowledged by admin: on it" in page.locator("ol.timeline").inner_text()
        page.get_by_role("button", name="Resolve").click()
        page.get_by_role("status").filter(has_text="Resolved.").wait_for()
        assert client.http.get(f"/incidents/{opened[pay]}").json()["status"] == "resolved"

        # A page opened before someone else resolved its incident: the ack is refused.
        page.goto(f"/ui/incidents/{opened[cart]}")
        client.http.post(f"/incidents/{opened[cart]}/resolve", json={"by": "someone-else"})
        page.get_by_role("button", name="Acknowledge").click()
        refusal = page.get_by_role("alert").filter(has_text="Refused (409)")
        refusal.wait_for()
        assert "resolved" in refusal.inner_text() and "Nothing was changed" in refusal.inner_text()
        after = client.http.get(f"/incidents/{opened[cart]}").json()
        assert after["status"] == "resolved" and after["acknowledged_by"] is None
    assert page.dialogs == []  # no script from an alert label ever ran


def test_a_model_is_deployed_after_its_evaluation_passes_and_rolled_back(
    browser_page: Any, stack: Stack
) -> None:
    model = f"ui-{uuid.uuid4().hex[:6]}"
    train = {"dataset": "sklearn:breast_cancer", "model": model, "estimator": "logistic_regression"}
    gate = {
        "dataset": "sklearn:breast_cancer",
        "model": model,
        "thresholds": {"min": {"accuracy": 0.9}},
    }
    with stack.client() as client:
        run(client, "mlops.train", train)
        run(client, "mlops.train", {**train, "params": {"C": 0.5}})
        run(client, "mlops.evaluate", {**gate, "version": 1})
        run(client, "mlops.deploy", {"model": model, "version": 1})
        page = browser_page
        sign_in(page, stack.api_url, TOKEN)
        page.goto(f"/ui/models/{model}")
        deploy = page.get_by_role("form", name="Deploy a version")
        deploy.get_by_label("Version").select_option("2")
        assert "never evaluated" in deploy.get_by_label("Version").inner_text()
        deploy.get_by_role("button", name="Deploy").click()
        refusal = page.get_by_role("alert").filter(has_text="never been evaluated")
        refusal.wait_for()
        assert "Nothing was changed" in refusal.inner_text()

        run(client, "mlops.evaluate", {**gate, "version": 2})
        page.goto(f"/ui/models/{model}")  # (a reload would post the refused form again)
        deploy.get_by_label("Version").select_option("2")
        deploy.get_by_label("Reason (optional)").fill("v2 passed its gate")
        deploy.get_by_role("button", name="Deploy").click()
        page.get_by_role("status").filter(has_text="submitted as job").wait_for()
        status_is(page, "succeeded")
        assert "v1 → v2" in page.get_by_role("heading", name="Result").locator("..").inner_text()

        page.goto(f"/ui/models/{model}")
        assert "production → v2" in page.locator("main > p").first.inner_text()
        rollback = page.get_by_role("form", name="Roll back an alias")
        rollback.get_by_label("Alias").select_option("production")
        rollback.get_by_role("button", name="Roll back").click()
        status_is(page, "succeeded")
        page.goto(f"/ui/models/{model}")
        assert "production → v1" in page.locator("main > p").first.inner_text()
        history = page.locator("ol.timeline").inner_text()
        assert "rollback of production: v2 → v1" in history and "v2 passed its gate" in history
        assert client.http.get(f"/models/{model}").json()["aliases"] == {"production": 1}


MESSY = """id,name,age,email
1, Ada ,36,ada@example.com
2,Brian,41,brian@example.com
2,Brian,41,brian@example.com
3,,29,cara@example.com
4,Dan,abc,dan@example.com
5,Eve,200,eve@example.com
6,Finn,33,finn@example.com,extra
7,Gus,17,gus@example.com
"""


def test_an_etl_run_shows_its_accounting_and_its_quarantine_downloads(
    browser_page: Any, stack: Stack, tmp_path: Path
) -> None:
    source = tmp_path / "people.csv"
    source.write_text(MESSY)
    spec = {
        "transforms": [
            {"type": "strip", "columns": ["name"]},
            {"type": "cast", "columns": {"id": "int", "age": "int"}, "on_error": "quarantine"},
            {"type": "deduplicate", "keys": ["id"]},
            {"type": "filter", "expr": "age >= 18"},
        ],
        "checks": [
            {"type": "not_null", "columns": ["name"], "severity": "error"},
            {"type": "range", "column": "age", "min": 0, "max": 120, "severity": "error"},
        ],
        "target": {"table": "ui_people", "mode": "replace", "dataset": "ui-people"},
        "max_reject_ratio": 0.9,
    }
    with stack.client() as client:
        uploaded = client.upload(source)
        done = run(client, "dataops.etl", {**spec, "source": {"file_id": uploaded["id"]}})
    rows = done["result"]["rows"]
    page = browser_page
    sign_in(page, stack.api_url, TOKEN)
    nav(page, "Data")
    page.get_by_role("link", name=done["id"][:8]).first.click()
    equation = " ".join(page.locator(".equation").inner_text().split())
    assert equation == (
        f"read {rows['read']} = loaded {rows['loaded']} + quarantined {rows['quarantined']} "
        f"+ filtered {rows['filtered']} + deduplicated {rows['deduplicated']}"
    )
    assert rows["read"] == 8 and rows["quarantined"] == 4  # a broken line, no name, abc, 200
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the quarantined rows")).click()
    saved = tmp_path / "quarantine.csv"
    download.value.save_as(saved)
    quarantined = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(quarantined) == rows["quarantined"] and all(r["_reason"] for r in quarantined)
    page.get_by_role("link", name=re.compile(r"^ui-people v\d+$")).click()
    page.get_by_role("heading", name="Lineage").wait_for()
    assert "people.csv" in page.locator("svg").inner_html()


def test_a_schedule_is_paused_and_resumed_and_a_form_without_csrf_is_rejected(
    browser_page: Any, stack: Stack
) -> None:
    name = f"ui-tick-{uuid.uuid4().hex[:6]}"
    with stack.client() as client:
        client.create_schedule(
            {"name": name, "kind": "system.echo", "params": {}, "interval_s": 3600}
        )
        page = browser_page
        sign_in(page, stack.api_url, TOKEN)
        nav(page, "Schedules")
        row = page.get_by_role("row", name=re.compile(f"^{name}"))
        row.get_by_role("button", name=f"Pause {name}").click()
        page.get_by_role("status").filter(has_text=f"Paused {name}").wait_for()
        assert "paused" in page.get_by_role("row", name=re.compile(f"^{name}")).inner_text()
        assert client.http.get(f"/schedules/{name}").json()["enabled"] is False
        page.get_by_role("row", name=re.compile(f"^{name}")).get_by_role(
            "button", name=f"Resume {name}"
        ).click()
        page.get_by_role("status").filter(has_text=f"Resumed {name}").wait_for()
        assert client.http.get(f"/schedules/{name}").json()["enabled"] is True

        page.goto(f"/ui/schedules/{name}")
        page.locator("form[action$='/pause'] input[name=csrf]").evaluate("e => e.remove()")
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("heading", name=re.compile("Not allowed")).wait_for()
        assert "security token" in page.get_by_role("alert").inner_text()
        assert client.http.get(f"/schedules/{name}").json()["enabled"] is True
        client.delete_schedule(name)


def test_a_job_page_follows_the_job_until_it_finishes(browser_page: Any, stack: Stack) -> None:
    with stack.client() as client:
        job = client.submit("system.echo", {"payload": "slow", "sleep_s": 3})
    page = browser_page
    sign_in(page, stack.api_url, TOKEN)
    page.goto(f"/ui/jobs/{job['id']}")
    first = page.locator("#h-state + div .badge").inner_text()
    assert "succeeded" not in first  # still queued or running when the page loaded
    status_is(page, "succeeded")  # no reload: the live part brought it
    assert "slow" in page.locator("#h-result").locator("..").inner_text()
