from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from workers.cli import expand_range, main, parse_param, progress_bar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dataset=sklearn:iris", ("dataset", "sklearn:iris")),
        ("test_size=0.3", ("test_size", 0.3)),
        ('payload={"a": [1]}', ("payload", {"a": [1]})),
        ("flag=true", ("flag", True)),
        ("expr=a=b", ("expr", "a=b")),
    ],
)
def test_params_are_key_equals_value_with_json_values(text: str, expected: tuple) -> None:
    assert parse_param(text) == expected


def test_a_progress_bar_fills_with_the_fraction() -> None:
    assert progress_bar(0.5, width=10) == "[#####     ]  50.0%"
    assert progress_bar(2.0, width=4) == "[####] 100.0%"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["up"],
        ["api"],
        ["worker"],
        ["beat"],
        ["flower"],
        ["redis"],
        ["db"],
        ["db", "upgrade"],
        ["submit"],
        ["status"],
        ["jobs"],
        ["health"],
        ["env"],
        ["etl", "run"],
        *(
            ["schedules", c]
            for c in ("list", "add", "pause", "resume", "run-now", "delete", "runs")
        ),
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date=2026-02-27..2026-03-01", ("date", ["2026-02-27", "2026-02-28", "2026-03-01"])),
        ("shard=1..3", ("shard", ["1", "2", "3"])),
    ],
)
def test_a_backfill_range_expands_to_every_day_or_integer(text: str, expected: tuple) -> None:
    assert expand_range(text) == expected


@pytest.mark.parametrize("text", ["date=2026-01-05..2026-01-01", "x=a..b", "nodots", "n=1..5000"])
def test_a_bad_backfill_range_is_refused(text: str) -> None:
    with pytest.raises(click.BadParameter):
        expand_range(text)


def test_env_prints_the_exports_a_second_shell_needs(tmp_path: Path) -> None:
    environ = {
        "PATH": os.environ["PATH"],
        "TRIOPS_HOME": str(tmp_path / "home dir"),
        "TRIOPS_API_PORT": "8123",
        "TRIOPS_API_TOKEN": "a token with 'quotes' 0123456789",
    }
    script = f'eval "$({sys.executable} -m workers.cli env)"; echo "$TOKEN|$API|$TRIOPS_HOME"'
    out = subprocess.run(
        ["bash", "-c", script], env=environ, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == (
        f"a token with 'quotes' 0123456789|http://127.0.0.1:8123/api/v1|{tmp_path / 'home dir'}"
    )
