"""A regex RE2 cannot run, or one nested too deep, is a 422 at submit naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

DEEP = "(" * 300 + "a" + ")" * 300  # within every field's length limit
LOOKBEHIND = r"(?<=user )\w+"
BACKREFERENCE = r"(\w+) \1"


def _submit(client: TestClient, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/jobs", json={"kind": kind, "params": params})
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    return body


def _etl(pattern: str) -> dict[str, Any]:
    return {
        "source": {"path": "x.csv"},
        "checks": [{"type": "regex", "column": "a", "pattern": pattern}],
        "target": {"table": "t"},
    }


CASES = [
    (
        "aiops.parse_logs",
        {"lines": ["a"], "masks": [{"name": "M", "regex": "{}"}]},
        ["params", "masks", 0, "regex"],
    ),
    ("aiops.parse_logs", {"lines": ["a"], "log_format": "<Date> {} <Content>"}, None),
    (
        "aiops.detect_log_anomalies",
        {"lines": ["a"], "group_by": "session", "session_pattern": "{}"},
        ["params", "session_pattern"],
    ),
    ("dataops.etl", _etl("{}"), None),
]


def _fill(params: Any, pattern: str) -> Any:
    if isinstance(params, dict):
        return {key: _fill(value, pattern) for key, value in params.items()}
    if isinstance(params, list):
        return [_fill(item, pattern) for item in params]
    if isinstance(params, str) and "{}" in params:
        return params.replace("{}", pattern)
    return params


@pytest.mark.parametrize(("kind", "params", "loc"), CASES)
@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (DEEP, "nests parentheses 300 deep; at most 50 levels"),
        (LOOKBEHIND, "look-arounds are not supported"),
        (BACKREFERENCE, "backreferences and look-arounds are not supported"),
    ],
)
def test_a_regex_re2_refuses_is_422_naming_the_field_and_the_reason(
    client: TestClient,
    kind: str,
    params: dict[str, Any],
    loc: list[Any] | None,
    pattern: str,
    reason: str,
) -> None:
    body = _submit(client, kind, _fill(params, pattern))
    assert reason in body["detail"], body["detail"]
    if loc is not None:
        assert any(d["loc"] == loc for d in body["error"]["details"]), body["error"]["details"]
    assert client.get("/api/v1/jobs").json()["jobs"] == []  # nothing was queued
