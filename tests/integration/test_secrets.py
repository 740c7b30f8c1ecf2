"""Secrets in the settings (a DSN's password, Flower's basic auth, the API token) never
reach a log file, a job row or a message, even from a job whose error names the DSN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import get_engine
from tests.conftest import FLOWER_PASSWORD, VAULT_PASSWORD
from tests.integration.conftest import TOKEN, Stack

pytestmark = pytest.mark.integration

SECRETS = (VAULT_PASSWORD, FLOWER_PASSWORD, TOKEN)


def test_no_secret_reaches_the_logs_the_job_rows_or_the_messages(
    stack: Stack, tmp_path: Path
) -> None:
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n")
    with stack.client() as client:
        ok = client.wait(client.submit("system.echo", {"payload": "fine"})["id"])
        profiled = client.wait(
            client.submit("dataops.profile", {"file_id": client.upload(table)["id"]})["id"]
        )
        failed = client.wait(
            client.submit(
                "dataops.etl",
                {
                    "source": {"connection": "vault", "query": "SELECT 1 AS a"},
                    "target": {"dataset": "vaulted"},
                },
            )["id"],
            timeout_s=90,
        )
        health = client.http.get("/health").text
    assert ok["status"] == "succeeded" and profiled["status"] == "succeeded"
    assert failed["status"] == "failed"
    message = failed["error"]["message"]
    # The error names the connection and where it points, with the password masked.
    assert "query on 'vault' (postgresql://vault:***@127.0.0.1:5432/" in message, message
    texts = {"health": health, "failed job": json.dumps(failed)}
    with get_engine(stack.settings).connect() as conn:
        for row in conn.execute(
            text(
                "SELECT id, CAST(params AS TEXT), CAST(result AS TEXT), "
                "CAST(error AS TEXT), note FROM jobs"
            )
        ):
            texts[f"job row {row[0]}"] = " ".join(str(v) for v in row[1:])
    logs = sorted(stack.logs.glob("*.log"))
    assert logs
    for log in logs:
        texts[log.name] = log.read_text(errors="replace")
    assert any("vault" in t for t in texts.values())  # the failure was recorded somewhere
    for where, content in texts.items():
        for secret in SECRETS:
            assert secret not in content, f"{secret[:6]}... appears in {where}"
