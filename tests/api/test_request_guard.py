"""What is refused at the edge, on the real app, database and Redis: bodies over their
limit (before they are read and before the token is checked), JSON nested too deep, text
PostgreSQL cannot store (NUL, lone surrogates) anywhere in a body or a URL, params over
their size, batches and pages over theirs. Nothing refused leaves a row behind, and
`GET /api/v1/jobs` keeps working."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.request_guard import json_problem
from core.config import Settings
from tests.api.conftest import TOKEN

SMALL = {"max_body_bytes": 4096, "max_upload_bytes": 32 * 1024, "max_params_bytes": 2048}


@pytest.fixture
def small(client: TestClient, settings: Settings) -> Iterator[TestClient]:
    """The app with small limits (the `client` fixture emptied the tables first)."""
    limited = settings.model_copy(update=SMALL)
    with TestClient(create_app(limited), raise_server_exceptions=False) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def raw(value: Any) -> bytes:
    """JSON with every non-ASCII character escaped, as a client in another language may
    send it (`\\u0000`, `\\ud800` included)."""
    return json.dumps(value, ensure_ascii=True).encode()


def post_raw(client: TestClient, path: str, body: bytes) -> Any:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


def assert_no_jobs(client: TestClient) -> None:
    listed = client.get("/api/v1/jobs")
    assert listed.status_code == 200, listed.text
    assert listed.json()["jobs"] == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"a": [1, "x", {"b": None}]}, None),
        (nested(64), None),
        (nested(65), "body: JSON nested deeper than 64 levels"),
        ({"params": {"rows": nested(70)}}, "body.params.rows: JSON nested deeper than 64"),
        ({"params": {"note": "a\x00b"}}, "body.params.note: contains a NUL character"),
        ({"k": ["ok", "\ud800"]}, "body.k[1]: contains a lone surrogate (\\ud800)"),
        ({"params": {"bad\x00key": 1}}, "body.params: the key bad\\x00key contains a NUL"),
        (json.loads('{"e": "\\ud83d\\ude00"}'), None),  # an escaped pair is one character
    ],
)
def test_json_problems_name_the_path_and_the_reason(document: Any, expected: str | None) -> None:
    found = json_problem(document, max_depth=64)
    if expected is None:
        assert found is None
    else:
        assert found is not None and found.startswith(expected), found


def test_a_declared_body_over_the_limit_is_refused_unread_and_before_the_token(
    live_api: str,
) -> None:
    """10 GB declared, nothing sent, no token: the answer comes at once."""
    url = urlsplit(live_api)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["detail"] == ("the request body exceeds the limit of 10485760 bytes")


def test_a_chunked_json_body_is_counted_while_it_streams(small: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"kind": "system.echo", "params": {"payload": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    response = small.post(
        "/api/v1/jobs",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": ""},
    )
    assert response.status_code == 413
    assert response.json()["detail"] == "the request body exceeds the limit of 4096 bytes"
    assert_no_jobs(small)


def test_uploads_have_their_own_larger_limit(small: TestClient) -> None:
    ok = small.post("/api/v1/files", files={"file": ("a.csv", b"a\n" + b"1\n" * 10_000)})
    assert ok.status_code == 201, ok.text  # 20 KB: over the JSON limit, under the upload's
    big = small.post("/api/v1/jobs", json={"kind": "system.echo", "params": {"p": "x" * 5000}})
    assert big.status_code == 413
    over = small.post("/api/v1/files", files={"file": ("b.csv", b"1\n" * 60_000)})
    assert over.status_code == 413
    assert "exceeds the limit" in over.json()["detail"]


def test_a_chunked_upload_over_its_limit_is_refused(small: TestClient) -> None:
    boundary = "b0undary"

    def chunks() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        for _ in range(100):
            yield b"1\n" * 500
        yield f"\r\n--{boundary}--\r\n".encode()

    response = small.post(
        "/api/v1/files",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413, response.text
    assert "exceeds the limit" in response.json()["detail"]


@pytest.mark.parametrize("depth", [65, 500, 100_000])
def test_json_nested_too_deep_is_a_422_at_parse_time(client: TestClient, depth: int) -> None:
    body = b'{"kind": "system.echo", "params": {"payload": ' + b"[" * depth + b"]" * depth + b"}}"
    response = post_raw(client, "/api/v1/jobs", body)
    assert response.status_code == 422, response.text
    assert "JSON nested deeper than 64 levels" in response.json()["detail"]
    assert_no_jobs(client)


def test_json_nested_within_the_limit_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs", json={"kind": "system.echo", "params": {"payload": nested(40)}}
    )
    assert response.status_code == 202, response.text
    assert client.get("/api/v1/jobs").json()["jobs"][0]["params"]["payload"] == nested(40)


UNSTORABLE = [
    (
        "/api/v1/jobs",
        {"kind": "system.echo", "params": {"payload": {"note": "a\x00b"}}},
        "body.params.payload.note: contains a NUL character",
    ),
    (
        "/api/v1/jobs",
        {"kind": "system.echo", "params": {"payload": ["ok", "\udfff"]}},
        "body.params.payload[1]: contains a lone surrogate (\\udfff)",
    ),
    (
        "/api/v1/jobs",
        {"kind": "system.echo", "params": {"payload": {"k\x00": 1}}},
        "body.params.payload: the key k\\x00 contains a NUL character",
    ),
    (
        "/api/v1/jobs",
        {"kind": "system.echo", "params": {}, "idempotency_key": "key-\x00"},
        "body.idempotency_key: contains a NUL character",
    ),
    (
        "/api/v1/jobs:batch",
        {"jobs": [{"kind": "system.echo", "idempotency_key": "\ud800"}]},
        "body.jobs[0].idempotency_key: contains a lone surrogate",
    ),
    (
        "/api/v1/alerts",
        {"service": "api", "message": "disk \x00 full", "severity": "critical"},
        "body.message: contains a NUL character",
    ),
    (
        "/api/v1/alerts",
        {"alerts": [{"labels": {"alertname": "x\ud83d", "service": "db"}}]},
        "body.alerts[0].labels.alertname: contains a lone surrogate",
    ),
    (
        "/api/v1/schedules",
        {"name": "nightly\x00", "kind": "system.echo", "interval_s": 60},
        "body.name: contains a NUL character",
    ),
]


@pytest.mark.parametrize(("path", "document", "expected"), UNSTORABLE)
def test_text_the_database_cannot_store_is_refused_with_its_path(
    client: TestClient, path: str, document: dict[str, Any], expected: str
) -> None:
    response = post_raw(client, path, raw(document))
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(expected), response.json()["detail"]
    assert_no_jobs(client)
    assert client.get("/api/v1/incidents").status_code == 200
    assert client.get("/api/v1/schedules").status_code == 200


def test_a_nul_in_the_url_is_refused(client: TestClient) -> None:
    for url in ("/api/v1/schedules/a%00b", "/api/v1/jobs?parent_id=%00", "/api/v1/jobs/%00"):
        response = client.get(url)
        assert response.status_code == 422, url
        assert "NUL character" in response.json()["detail"]


def test_params_over_their_size_are_a_413_that_points_to_files(small: TestClient) -> None:
    response = small.post(
        "/api/v1/jobs", json={"kind": "system.echo", "params": {"payload": "x" * 3000}}
    )
    assert response.status_code == 413, response.text
    assert "over the limit of 2048 (TRIOPS_MAX_PARAMS_BYTES)" in response.json()["detail"]
    assert_no_jobs(small)


def test_batches_and_pages_over_their_size_are_refused_with_the_limit(client: TestClient) -> None:
    batch = client.post("/api/v1/jobs:batch", json={"jobs": [{"kind": "system.echo"}] * 1001})
    assert batch.status_code == 422
    assert "jobs" in batch.json()["detail"] and "1000" in batch.json()["detail"]
    page = client.get("/api/v1/jobs?limit=501")
    assert page.status_code == 422
    assert "limit" in page.json()["detail"] and "500" in page.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_422(client: TestClient) -> None:
    response = post_raw(client, "/api/v1/jobs", b'{"kind": "system.echo", "params": "\xff"}')
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "body: not valid UTF-8 (at byte offset 35); JSON must be sent as UTF-8"
    )


def test_an_unknown_query_parameter_names_the_known_ones(client: TestClient) -> None:
    response = client.get("/api/v1/jobs?stauts=failed")
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "unknown query parameter 'stauts' (this call takes: cursor, kind, limit, parent_id, status)"
    )
    assert client.get("/api/v1/jobs?status=failed&limit=5").status_code == 200


def test_a_wrong_method_lists_every_method_the_path_allows(client: TestClient) -> None:
    response = client.delete("/api/v1/jobs")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert client.put("/api/v1/schedules/x").headers["allow"] == "GET, PATCH, DELETE"
