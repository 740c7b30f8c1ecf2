"""Every console page renders on seeded rows, escapes what users wrote, shows no
traceback, and answers a missing resource with a 404 page."""

from __future__ import annotations

import pytest

from tests.ui.conftest import Console
from tests.ui.seed import XSS


class Page:
    """A page's HTML with its whitespace folded, to search in."""

    def __init__(self, text: str) -> None:
        self.text = text


def _pages(console: Console) -> list[str]:
    s = console.seeded
    return [
        "/ui",
        "/ui/health",
        "/ui/jobs",
        "/ui/jobs?kind=system.echo&status=succeeded&since=1h&family=system",
        *(f"/ui/jobs/{job_id}" for job_id in s.jobs.values()),
        "/ui/incidents",
        "/ui/incidents?status=open&severity=critical&service=checkout",
        f"/ui/incidents/{s.incident}",
        "/ui/logs",
        f"/ui/logs/{s.stream}",
        "/ui/metrics",
        "/ui/models",
        f"/ui/models/{s.model}",
        f"/ui/models/{s.model}/versions/1",
        "/ui/data",
        f"/ui/data/{s.dataset}",
        f"/ui/data/{s.dataset}/versions/1",
        "/ui/data/servers-eu/versions/1",
        "/ui/schedules",
        f"/ui/schedules/{s.schedule}",
        f"/ui/pipelines/{s.pipeline}",
    ]


def test_every_page_renders_with_landmarks_and_escapes_what_users_wrote(
    console: Console,
) -> None:
    for path in _pages(console):
        response = console.client.get(path)
        assert response.status_code == 200, (path, response.text[-2000:])
        html = response.text
        assert "<main" in html and "<nav" in html and "<h1" in html, path
        assert XSS not in html, f"unescaped user text on {path}"
        assert "Traceback" not in html
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["server-timing"].startswith("app;dur=")


def test_user_text_is_escaped_where_it_shows(console: Console) -> None:
    s = console.seeded
    incident = console.client.get(f"/ui/incidents/{s.incident}").text
    assert "note=&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in incident
    assert "<script>alert" not in incident
    for path in (f"/ui/jobs/{s.jobs['failed']}", f"/ui/models/{s.model}", f"/ui/logs/{s.stream}"):
        assert "&lt;script&gt;" in console.client.get(path).text, path


def test_the_pages_say_what_the_rows_hold(console: Console) -> None:
    s = console.seeded

    def get(path: str) -> Page:
        response = console.client.get(path)
        assert response.status_code == 200, path
        return Page(" ".join(response.text.split()))

    etl = get(f"/ui/jobs/{s.jobs['etl']}").text
    assert "read <strong>12</strong> = loaded <strong>7</strong>" in etl
    assert f"/ui/jobs/{s.jobs['etl']}/artifacts/quarantine.csv" in etl
    failed_etl = get(f"/ui/jobs/{s.jobs['etl_failed']}").text
    assert "quarantined <strong>9</strong>" in failed_etl  # from the error's details
    metric = get(f"/ui/jobs/{s.jobs['metric']}").text
    assert f'src="/ui/jobs/{s.jobs["metric"]}/artifacts/anomalies.png"' in metric
    assert "Anomalous windows" in metric
    assert "expected" in get(f"/ui/jobs/{s.jobs['forecast']}").text
    model = get(f"/ui/models/{s.model}").text
    assert "v3 — latest evaluation failed" in model
    assert "production: v2 → v1" in model  # the rollback target
    version = get(f"/ui/data/{s.dataset}/versions/1").text
    assert "servers-eu@1" in version and "cancer v1" in version and "wh_servers" in version
    assert "<svg" in version and "servers.csv" in version
    overview = get("/ui").text
    assert "critical: 1" in overview and "production</code> → v2" in overview


def test_a_running_job_has_a_live_part_and_a_finished_one_says_it_is_done(
    console: Console,
) -> None:
    s, get = console.seeded, console.client.get
    running = get(f"/ui/jobs/{s.jobs['running']}")
    assert 'data-live="/ui/jobs/' in running.text and "reading" in running.text
    part = get(f"/ui/jobs/{s.jobs['running']}?part=live")
    assert (
        part.status_code == 200 and "<html" not in part.text and "X-Live-Done" not in part.headers
    )
    finished = get(f"/ui/jobs/{s.jobs['echo']}?part=live")
    assert finished.headers["x-live-done"] == "1"
    assert "data-live" not in get(f"/ui/jobs/{s.jobs['echo']}").text
    rows = get("/ui/jobs?part=rows")
    assert rows.status_code == 200 and "<table>" in rows.text and "<html" not in rows.text


def test_artifacts_download_through_the_console(console: Console) -> None:
    s = console.seeded
    response = console.client.get(f"/ui/jobs/{s.jobs['etl']}/artifacts/quarantine.csv")
    assert response.status_code == 200
    assert response.text.startswith("host,cpu,_rule,_reason")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.headers["x-checksum-sha256"]
    png = console.client.get(f"/ui/jobs/{s.jobs['metric']}/artifacts/anomalies.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    parquet = console.client.get(f"/ui/data/{s.dataset}/versions/1/download")
    assert parquet.status_code == 200 and parquet.content == b"PAR1"


@pytest.mark.parametrize(
    "path",
    [
        "/ui/jobs/no-such-job",
        "/ui/incidents/no-such-incident",
        "/ui/models/no-such-model",
        "/ui/models/cancer/versions/99",
        "/ui/data/no-such-dataset",
        "/ui/data/servers/versions/99",
        "/ui/logs/no-such-stream",
        "/ui/schedules/no-such-schedule",
        "/ui/pipelines/no-such-pipeline",
        "/ui/jobs/no-such-job/artifacts/x.csv",
        "/ui/no-such-page",
    ],
)
def test_a_missing_resource_is_a_404_page(console: Console, path: str) -> None:
    response = console.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text and "Traceback" not in response.text


def test_bad_filters_are_refused_on_a_page_not_a_traceback(console: Console) -> None:
    for path in (
        "/ui/jobs?kind=no.such",
        "/ui/jobs?status=sleeping",
        "/ui/jobs?since=1y",
        "/ui/jobs?cursor=garbage",
        "/ui/models/cancer/versions/abc",
    ):
        response = console.client.get(path)
        assert response.status_code == 422, path
        assert "Refused" in response.text and "Traceback" not in response.text


def test_an_unexpected_error_is_a_page_without_a_traceback(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core import registry

    def broken(**_: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(registry, "list_models", broken)
    response = console.client.get("/ui/models")
    assert response.status_code == 500
    assert "internal error (reference" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_the_api_is_unchanged_by_the_console_error_pages(console: Console) -> None:
    response = console.client.get("/api/v1/jobs/no-such-job")
    assert response.status_code == 401 and response.json()["error"]["type"] == "Unauthorized"
