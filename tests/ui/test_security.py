"""Signing in, the session cookie, CSRF on every form, what a read-only principal may do,
and actions the API would refuse shown with its reason while nothing changes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core import tokens
from core.config import Settings
from core.db import session_scope
from core.tables import Incident, Job, Schedule, utcnow
from tests.ui.conftest import TOKEN, Console, csrf_of, sign_in


def _row(settings: Settings, model: type, key: str) -> object:
    with session_scope(settings) as session:
        row = session.get(model, key)
        assert row is not None
        session.expunge(row)
        return row


def test_a_page_without_a_session_leads_to_sign_in_and_back(anonymous: TestClient) -> None:
    response = anonymous.get("/ui/models?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/sign-in?next=%2Fui%2Fmodels%3Fx%3D1"
    form = anonymous.get(response.headers["location"])
    assert 'name="next" value="/ui/models?x=1"' in form.text
    signed = anonymous.post(
        "/ui/sign-in",
        data={"token": TOKEN, "csrf": csrf_of(form.text), "next": "/ui/models?x=1"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/ui/models?x=1"
    fragment = TestClient(anonymous.app).get("/ui/jobs?part=rows", follow_redirects=False)
    assert fragment.status_code == 401  # a live part makes its script reload the page


def test_a_wrong_token_is_refused_at_sign_in_with_no_data(console: Console) -> None:
    stranger = TestClient(console.client.app)
    form = stranger.get("/ui/sign-in")
    response = stranger.post(
        "/ui/sign-in",
        data={"token": "not-the-token", "csrf": csrf_of(form.text), "next": "/ui"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "That token is not valid." in response.text
    assert "triops_session" not in response.headers.get("set-cookie", "")
    assert console.seeded.incident not in response.text and "<nav" not in response.text
    assert stranger.get("/ui", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_own_csrf_value(anonymous: TestClient) -> None:
    anonymous.get("/ui/sign-in")
    response = anonymous.post(
        "/ui/sign-in", data={"token": TOKEN, "csrf": "forged"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "triops_session" not in response.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://evil.example/ui", "/ui"),
        ("//evil.example/ui", "/ui"),
        ("/api/v1/jobs", "/ui"),
        ("/ui/jobs?status=failed", "/ui/jobs?status=failed"),
    ],
)
def test_sign_in_goes_on_to_console_pages_only(
    anonymous: TestClient, target: str, expected: str
) -> None:
    form = anonymous.get("/ui/sign-in")
    response = anonymous.post(
        "/ui/sign-in",
        data={"token": TOKEN, "csrf": csrf_of(form.text), "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == expected


def test_the_session_cookie_is_httponly_strict_scoped_and_secure_over_https(
    anonymous: TestClient,
) -> None:
    secure = TestClient(anonymous.app, base_url="https://console.example")
    form = secure.get("/ui/sign-in")
    response = secure.post(
        "/ui/sign-in",
        data={"token": TOKEN, "csrf": csrf_of(form.text)},
        follow_redirects=False,
    )
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("triops_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ui", "secure"} <= flags
    assert TOKEN not in cookie  # encoded, with a nonce; never in a page or a URL
    plain = TestClient(anonymous.app)
    plain_cookie = plain.post(
        "/ui/sign-in",
        data={"token": TOKEN, "csrf": csrf_of(plain.get("/ui/sign-in").text)},
        follow_redirects=False,
    ).headers["set-cookie"]
    assert "secure" not in plain_cookie.lower()


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    console: Console, settings: Settings
) -> None:
    incident = console.seeded.incident
    for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
        response = console.client.post(
            f"/ui/incidents/{incident}/ack", data=data, follow_redirects=False
        )
        assert response.status_code == 403, data
        assert "security token" in response.text
    assert _row(settings, Incident, incident).status == "open"  # type: ignore[attr-defined]


def test_the_csrf_token_is_per_session(console: Console) -> None:
    again = TestClient(console.client.app)
    other = sign_in(again)
    assert other != console.csrf
    response = again.post(
        f"/ui/incidents/{console.seeded.incident}/ack",
        data={"csrf": console.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_sign_out_ends_the_session(console: Console) -> None:
    response = console.client.post(
        "/ui/sign-out", data={"csrf": console.csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert console.client.get("/ui", follow_redirects=False).status_code == 303


@pytest.fixture
def reader(console: Console, settings: Settings) -> TestClient:
    """A second browser signed in with a real token of scope read (`triops token create`)."""
    with session_scope(settings) as session:
        token = tokens.create_token(session=session, scope="read", name="auditor", now=utcnow())
    client = TestClient(console.client.app)
    sign_in(client, token.token)
    return client


def test_a_read_only_principal_sees_no_actions_and_is_refused_if_it_posts(
    console: Console, reader: TestClient, settings: Settings
) -> None:
    s = console.seeded
    pages = {
        f"/ui/incidents/{s.incident}": ">Acknowledge</button>",
        f"/ui/models/{s.model}": ">Deploy</button>",
        "/ui/schedules": ">Pause ",
        f"/ui/schedules/{s.schedule}": ">Run now</button>",
        f"/ui/jobs/{s.jobs['queued']}": ">Cancel this job</button>",
    }
    for path, action in pages.items():
        assert action in console.client.get(path).text, path  # the admin has it
        html = reader.get(path).text
        assert "auditor" in html and action not in html, path
        assert 'method="post" action="/ui/sign-out"' in html
        assert html.count('method="post"') == 1, path  # only signing out
    csrf = csrf_of(reader.get("/ui").text)
    posts = [
        f"/ui/incidents/{s.incident}/ack",
        f"/ui/models/{s.model}/deploy",
        f"/ui/schedules/{s.schedule}/pause",
        f"/ui/jobs/{s.jobs['queued']}/cancel",
    ]
    for path in posts:
        response = reader.post(path, data={"csrf": csrf, "version": "1"}, follow_redirects=False)
        assert response.status_code == 403, path
        assert "may read but not act" in response.text
    assert _row(settings, Incident, s.incident).status == "open"  # type: ignore[attr-defined]
    assert _row(settings, Job, s.jobs["queued"]).status == "queued"  # type: ignore[attr-defined]


def test_an_incident_is_acknowledged_noted_and_resolved_by_the_viewer(
    console: Console, settings: Settings
) -> None:
    client, csrf, incident = console.client, console.csrf, console.seeded.incident
    acked = client.post(
        f"/ui/incidents/{incident}/ack",
        data={"csrf": csrf, "note": "looking <b>now</b>"},
        follow_redirects=False,
    )
    assert acked.status_code == 303 and acked.headers["location"] == f"/ui/incidents/{incident}"
    page = client.get(acked.headers["location"]).text
    assert "Acknowledged." in page and "acknowledged</strong> by admin" in page
    assert "looking &lt;b&gt;now&lt;/b&gt;" in page
    assert "Acknowledged." not in client.get(f"/ui/incidents/{incident}").text  # shown once
    noted = client.post(
        f"/ui/incidents/{incident}/notes", data={"csrf": csrf, "note": "rolled back the deploy"}
    )
    assert "rolled back the deploy" in noted.text
    empty = client.post(f"/ui/incidents/{incident}/notes", data={"csrf": csrf, "note": ""})
    assert empty.status_code == 422 and "Nothing was changed" in empty.text
    client.post(f"/ui/incidents/{incident}/resolve", data={"csrf": csrf})
    assert _row(settings, Incident, incident).resolved_by == "admin"  # type: ignore[attr-defined]
    again = client.post(f"/ui/incidents/{incident}/ack", data={"csrf": csrf})
    assert again.status_code == 409
    assert "resolved" in again.text and "Nothing was changed" in again.text
    assert _row(settings, Incident, incident).status == "resolved"  # type: ignore[attr-defined]


def test_deploying_a_version_whose_gate_failed_shows_the_reason_and_submits_nothing(
    console: Console, settings: Settings
) -> None:
    client, csrf, model = console.client, console.csrf, console.seeded.model
    refused = client.post(
        f"/ui/models/{model}/deploy", data={"csrf": csrf, "version": "3", "alias": "production"}
    )
    assert refused.status_code == 409
    assert "its latest evaluation failed" in refused.text
    assert "accuracy 0.5 &lt; 0.9" in refused.text  # the gate's reasons
    with session_scope(settings) as session:
        assert not session.query(Job).filter(Job.kind == "mlops.deploy").count()
    bad = client.post(f"/ui/models/{model}/deploy", data={"csrf": csrf, "version": "x"})
    assert bad.status_code == 422


def test_deploy_and_rollback_submit_the_api_jobs_and_show_them(
    console: Console, settings: Settings
) -> None:
    client, csrf, model = console.client, console.csrf, console.seeded.model
    deployed = client.post(
        f"/ui/models/{model}/deploy",
        data={"csrf": csrf, "version": "1", "alias": "staging", "reason": "canary"},
        follow_redirects=False,
    )
    assert deployed.status_code == 303 and deployed.headers["location"].startswith("/ui/jobs/")
    job_id = deployed.headers["location"].rsplit("/", 1)[1]
    job = _row(settings, Job, job_id)
    assert job.kind == "mlops.deploy" and job.origin == "console:admin"  # type: ignore[attr-defined]
    assert job.params == {  # type: ignore[attr-defined]
        "model": model,
        "version": 1,
        "alias": "staging",
        "force": False,
        "reason": "canary",
    }
    page = client.get(deployed.headers["location"]).text
    assert "submitted as job" in page and "mlops.deploy" in page
    rolled = client.post(
        f"/ui/models/{model}/rollback",
        data={"csrf": csrf, "alias": "production"},
        follow_redirects=False,
    )
    assert rolled.status_code == 303
    rollback = _row(settings, Job, rolled.headers["location"].rsplit("/", 1)[1])
    assert rollback.kind == "mlops.rollback"  # type: ignore[attr-defined]
    nothing = client.post(f"/ui/models/{model}/rollback", data={"csrf": csrf, "alias": "nope"})
    assert nothing.status_code == 409 and "no earlier version" in nothing.text


def test_a_schedule_is_paused_resumed_and_run_now(console: Console, settings: Settings) -> None:
    client, csrf, name = console.client, console.csrf, console.seeded.schedule
    paused = client.post(
        f"/ui/schedules/{name}/pause",
        data={"csrf": csrf, "back": "/ui/schedules"},
        follow_redirects=False,
    )
    assert paused.headers["location"] == "/ui/schedules"
    assert "Paused nightly-canary" in client.get("/ui/schedules").text
    with session_scope(settings) as session:
        row = session.query(Schedule).filter_by(name=name).one()
        assert not row.enabled and row.next_run_at is None
    client.post(f"/ui/schedules/{name}/resume", data={"csrf": csrf})
    ran = client.post(f"/ui/schedules/{name}/run-now", data={"csrf": csrf}, follow_redirects=False)
    assert ran.status_code == 303 and ran.headers["location"].startswith("/ui/jobs/")
    with session_scope(settings) as session:
        row = session.query(Schedule).filter_by(name=name).one()
        assert row.enabled and row.next_run_at is not None
    builtin = client.post("/ui/schedules/no-such/pause", data={"csrf": csrf})
    assert builtin.status_code == 404


def test_a_job_is_cancelled_once_and_a_finished_one_cannot_be(
    console: Console, settings: Settings
) -> None:
    client, csrf, s = console.client, console.csrf, console.seeded
    cancelled = client.post(f"/ui/jobs/{s.jobs['queued']}/cancel", data={"csrf": csrf})
    assert cancelled.status_code == 200 and "Cancelled." in cancelled.text
    assert _row(settings, Job, s.jobs["queued"]).status == "cancelled"  # type: ignore[attr-defined]
    refused = client.post(f"/ui/jobs/{s.jobs['echo']}/cancel", data={"csrf": csrf})
    assert refused.status_code == 409 and "already succeeded" in refused.text


def test_a_token_that_stops_being_valid_ends_the_session(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.client.app.state, "admin_token", "rotated-token-0123456789")
    response = console.client.get("/ui/jobs", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/ui/sign-in")
    assert 'triops_session=""' in response.headers["set-cookie"]


def test_a_link_from_another_site_hops_once_so_the_strict_cookie_is_sent(
    anonymous: TestClient,
) -> None:
    response = anonymous.get(
        "/ui/incidents/x", headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False
    )
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="0">' in response.text
    same_site = anonymous.get(
        "/ui/incidents/x", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False
    )
    assert same_site.status_code == 303
