"""`triops token create|list|revoke` on the suite's database: the token is printed once
(stdout, alone, so scripts can capture it), listed without it, and revoked by name or id;
the token it prints is accepted by the API with its scope."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from api.main import create_app
from core.config import Settings
from tests.conftest import clear_tables
from workers.cli import main


def run(settings: Settings, tmp_path: Path, *args: str) -> Result:
    env = {
        "TRIOPS_HOME": str(tmp_path),
        "TRIOPS_DATABASE_URL": settings.database_url,
        "TRIOPS_API_TOKEN": "test-token-0123456789",
    }
    return CliRunner(env=env).invoke(main, ["token", *args])


def test_a_token_is_created_printed_once_listed_and_revoked(
    settings: Settings, tmp_path: Path
) -> None:
    clear_tables(settings)
    made = run(
        settings, tmp_path, "create", "--scope", "read", "--name", "grafana", "--expires", "30d"
    )
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert token.startswith("trs_") and "\n" not in token
    assert "created token grafana" in made.stderr and "shown this once" in made.stderr
    listed = run(settings, tmp_path, "list")
    assert listed.exit_code == 0
    header, row = listed.stdout.strip().splitlines()
    assert header.split()[:4] == ["NAME", "ID", "SCOPE", "STATE"]
    assert row.split()[0] == "grafana" and row.split()[2:4] == ["read", "active"]
    assert token not in listed.stdout
    with TestClient(create_app(settings)) as client:
        as_grafana = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/kinds", headers=as_grafana).status_code == 200
        assert client.post("/api/v1/jobs", headers=as_grafana, json={}).status_code == 403
        revoked = run(settings, tmp_path, "revoke", "grafana")
        assert revoked.exit_code == 0 and "revoked grafana" in revoked.stdout
        assert client.get("/api/v1/kinds", headers=as_grafana).status_code == 401
    assert "revoked" in run(settings, tmp_path, "list").stdout


def test_token_mistakes_are_one_error_line(settings: Settings, tmp_path: Path) -> None:
    clear_tables(settings)
    for args, needle in [
        (["create", "--scope", "root"], "Invalid value for '--scope'"),
        (["create", "--scope", "read", "--expires", "later"], "neither a duration"),
        (["revoke", "nobody"], "no token with id or name 'nobody'"),
    ]:
        result = run(settings, tmp_path, *args)
        assert result.exit_code != 0, args
        assert needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    run(settings, tmp_path, "create", "--scope", "read", "--name", "twice")
    again = run(settings, tmp_path, "create", "--scope", "read", "--name", "twice")
    assert again.exit_code == 1 and "error: a token named 'twice' exists already" in again.stderr
