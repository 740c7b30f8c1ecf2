"""Every CLI command that talks to the API answers an API error with one `error: ...`
line and a non-zero exit: a stopped API, a bad token, a 404 or a 422 — no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bench.stack import free_port
from workers.cli import main

API_COMMANDS: list[list[str]] = [
    ["submit", "system.echo", "-p", "payload=1"],
    ["status", "00000000-0000-0000-0000-000000000000"],
    ["jobs"],
    ["etl", "run", "{spec}"],
    ["schedules", "list"],
    ["schedules", "add", "scan", "--kind", "system.echo", "--every", "60"],
    ["schedules", "pause", "scan"],
    ["schedules", "resume", "scan"],
    ["schedules", "run-now", "scan"],
    ["schedules", "runs", "scan"],
    ["schedules", "delete", "scan"],
]


def run(args: list[str], *, url: str, token: str, tmp_path: Path) -> Result:
    spec = tmp_path / "spec.yaml"
    spec.write_text("source: {path: in.csv}\ntarget: {table: t}\n")
    env = {"TRIOPS_HOME": str(tmp_path), "TRIOPS_API_URL": url, "TRIOPS_API_TOKEN": token}
    argv = [a.replace("{spec}", str(spec)) for a in args]
    return CliRunner(env=env).invoke(main, argv)


def assert_one_error_line(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args", API_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_stopped_api_is_one_line_naming_the_url_and_how_to_change_it(
    args: list[str], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(args, url=url, token="t" * 20, tmp_path=tmp_path)
    assert_one_error_line(
        result, 2, f"cannot reach the triops API at {url}", "TRIOPS_API_URL", "TRIOPS_API_PORT"
    )


@pytest.mark.parametrize("args", API_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_bad_token_is_one_line_saying_so(args: list[str], live_api: str, tmp_path: Path) -> None:
    result = run(args, url=live_api, token="wrong-token-0123456789", tmp_path=tmp_path)
    assert_one_error_line(result, 1, "HTTP 401", "invalid token", "TRIOPS_API_TOKEN")


def test_a_422_names_the_fields_and_a_404_says_what_is_missing(
    live_api: str, tmp_path: Path
) -> None:
    token = "test-token-0123456789"
    bad = run(
        ["submit", "mlops.train", "-p", "test_size=2"], url=live_api, token=token, tmp_path=tmp_path
    )
    assert_one_error_line(bad, 1, "HTTP 422", "test_size")
    unknown = run(["submit", "nope.kind"], url=live_api, token=token, tmp_path=tmp_path)
    assert_one_error_line(unknown, 1, "HTTP 422", "unknown job kind 'nope.kind'")
    missing = run(API_COMMANDS[1], url=live_api, token=token, tmp_path=tmp_path)
    assert_one_error_line(missing, 1, "HTTP 404", "not found")


def test_health_check_prints_one_line_with_its_exit_code(live_api: str, tmp_path: Path) -> None:
    down = run(
        ["health", "--check"],
        url=f"http://127.0.0.1:{free_port()}",
        token="x" * 20,
        tmp_path=tmp_path,
    )
    assert down.exit_code == 2 and down.stdout.startswith("unreachable: http://127.0.0.1:")
    assert len(down.stdout.strip().splitlines()) == 1
    # No worker runs beside this API: the stack is degraded, and the line says why.
    up = run(["health", "--check"], url=live_api, token="x" * 20, tmp_path=tmp_path)
    assert up.exit_code == 1, up.output
    assert up.stdout.strip() == "degraded: no worker in pool aiops, mlops, dataops"
    plain = run(
        ["health"], url=f"http://127.0.0.1:{free_port()}", token="x" * 20, tmp_path=tmp_path
    )
    assert_one_error_line(plain, 2, "cannot reach the triops API")
