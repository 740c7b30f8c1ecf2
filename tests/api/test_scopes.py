"""Every route checks its scope: the OpenAPI document is walked, and each route × method
is called with a real token (made with core.tokens in the suite's database) below its
scope (403 with a plain message) and at its scope (anything but 403).

The scope each route declares (`require(...)` in its decorator) is compared first with
the rule the API promises: GETs read; predictions read (they change nothing); token
management is admin; everything else that changes something is submit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.openapi import route_scopes
from core import tokens
from core.config import Settings
from core.db import session_scope
from core.tables import utcnow

SCOPES = ("read", "submit", "admin")


def expected_scope(path: str, method: str) -> str:
    if path.startswith("/api/v1/tokens"):
        return "admin"
    if method == "GET" or (method == "POST" and path.endswith("/predict")):
        return "read"
    return "submit"


@pytest.fixture
def scoped(client: TestClient, settings: Settings) -> dict[str, str]:
    """A real token of each scope, in the database the app reads."""
    with session_scope(settings) as session:
        return {
            scope: tokens.create_token(session=session, scope=scope, name=scope, now=utcnow()).token
            for scope in SCOPES
        }


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.get("/openapi.json").json()
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if path != "/api/v1/health":
                found.append((path, method.upper(), operation))
    return found


def call(client: TestClient, path: str, method: str, token: str) -> Any:
    url = re.sub(r"\{[^}]+\}", "x", path)
    headers = {"Authorization": f"Bearer {token}"}
    if method == "POST" and path == "/api/v1/files":
        return client.post(url, headers=headers, files={"file": ("a.csv", b"a\n1\n")})
    if method in ("POST", "PATCH", "PUT"):
        return client.request(method, url, headers=headers, json={})
    return client.request(method, url, headers=headers)


def test_every_api_route_declares_the_scope_the_rule_gives(client: TestClient) -> None:
    declared = route_scopes(client.app)  # type: ignore[arg-type]
    ops = operations(client)
    assert len(ops) > 30
    table = {(path, method): declared.get((path, method)) for path, method, _ in ops}
    assert table == {key: expected_scope(*key) for key in table}
    for path, method, operation in ops:
        assert operation["x-scope"] == table[(path, method)]
        assert "403" in operation["responses"], (method, path)


def test_a_token_below_a_routes_scope_gets_403_and_one_at_it_does_not(
    client: TestClient, scoped: dict[str, str]
) -> None:
    checked = 0
    for path, method, _ in operations(client):
        needed = expected_scope(path, method)
        for scope in SCOPES[: SCOPES.index(needed)]:
            response = call(client, path, method, scoped[scope])
            assert response.status_code == 403, (scope, method, path, response.text)
            assert response.json()["detail"] == (
                f"this call needs a token of scope {needed!r}; {scope!r} has scope {scope!r}"
            )
            checked += 1
        at = call(client, path, method, scoped[needed])
        assert at.status_code not in (401, 403), (needed, method, path, at.text)
        assert at.status_code < 500, (needed, method, path, at.text)
        checked += 1
    assert checked > 50


def test_the_bootstrap_token_is_admin_and_unknown_revoked_or_expired_tokens_are_401(
    client: TestClient, settings: Settings, scoped: dict[str, str]
) -> None:
    assert client.get("/api/v1/tokens").status_code == 200  # TRIOPS_API_TOKEN
    with session_scope(settings) as session:
        tokens.revoke_token(session=session, ref="read", now=utcnow())
    for token in (scoped["read"], "trs_" + "A" * 43, "not-a-token"):
        response = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == "Bearer"


def test_an_admin_manages_tokens_over_http_and_the_token_is_shown_once(
    client: TestClient,
) -> None:
    made = client.post("/api/v1/tokens", json={"scope": "read", "name": "dash", "expires": "30d"})
    assert made.status_code == 201, made.text
    body = made.json()
    token = body["token"]
    assert token.startswith("trs_") and body["scope"] == "read" and body["expires_at"]
    listed = client.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["dash"] and "token" not in listed[0]
    as_dash = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/kinds", headers=as_dash).status_code == 200
    refused = client.post(
        "/api/v1/jobs", headers=as_dash, json={"kind": "system.echo", "params": {}}
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/tokens").json()[0]["last_used_at"] is not None
    again = client.post("/api/v1/tokens", json={"scope": "read", "name": "dash"})
    assert again.status_code == 409 and "exists" in again.json()["detail"]
    bad = client.post("/api/v1/tokens", json={"scope": "read", "expires": "someday"})
    assert bad.status_code == 422 and "neither a duration" in bad.json()["detail"]
    assert client.post("/api/v1/tokens/dash/revoke").json()["revoked_at"] is not None
    assert client.get("/api/v1/kinds", headers=as_dash).status_code == 401
    assert client.post("/api/v1/tokens/nobody/revoke").status_code == 404
