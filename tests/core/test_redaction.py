"""`redact`: passwords in URLs, secret query values and registered secrets become ***."""

from __future__ import annotations

import logging

import pytest

from core.config import Settings
from core.logs import JsonFormatter, RedactFilter, TextFormatter
from core.redaction import redact, redact_value, register_secrets, secrets_of_url
from tasks.base import error_dict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://triops:hunter22@db:5432/triops",
            "postgresql://triops:***@db:5432/triops",
        ),
        ("postgresql+psycopg://u:p%40ss@db/x", "postgresql+psycopg://u:***@db/x"),
        ("redis://:redispass@cache:6379/0", "redis://:***@cache:6379/0"),
        ("rediss://default:s3cr3t@cache:6380", "rediss://default:***@cache:6380"),
        (
            "could not reach https://hook:tok3n@hooks.example/x?token=abc123&room=ops now",
            "could not reach https://hook:***@hooks.example/x?token=***&room=ops now",
        ),
        (
            "https://hooks.example/x?api_key=k3y&sig=zz",
            "https://hooks.example/x?api_key=***&sig=***",
        ),
        (
            "postgresql://triops@db/triops (no password)",
            "postgresql://triops@db/triops (no password)",
        ),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        ("plain text: user@host a:b", "plain text: user@host a:b"),
    ],
)
def test_urls_keep_everything_but_their_secrets(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_registered_secrets_are_masked_anywhere_in_a_text() -> None:
    register_secrets(["tok-5e1d8a0c33", "abc"])  # too short to register: "abc"
    assert redact("Authorization: Bearer tok-5e1d8a0c33") == "Authorization: Bearer ***"
    assert redact("abc stays") == "abc stays"


def test_the_settings_name_every_secret_they_hold() -> None:
    settings = Settings.from_env(
        {
            "TRIOPS_API_TOKEN": "admin-token-x1",
            "TRIOPS_DATABASE_URL": "postgresql://t:db-pw-x2@db/t",
            "TRIOPS_REDIS_URL": "redis://:redis-pw-x3@cache:6379/0",
            "TRIOPS_SQL_CONNECTIONS": '{"wh": "postgresql://r:wh-pw-x4@wh/r"}',
            "TRIOPS_FLOWER_BASIC_AUTH": "ops:flower-pw-x5",
            "TRIOPS_INCIDENT_WEBHOOK_URL": "https://hooks.example/in?token=hook-x6",
        }
    )
    values = set(settings.secret_values())
    for secret in ("admin-token-x1", "db-pw-x2", "redis-pw-x3", "wh-pw-x4", "flower-pw-x5"):
        assert secret in values
    assert "hook-x6" in values
    assert secrets_of_url("postgresql://u:p%40ss@h/d") == ["p%40ss", "p@ss"]


def test_a_job_error_that_quotes_a_dsn_is_recorded_without_its_password() -> None:
    exc = RuntimeError("cannot connect to postgresql://etl:pw-in-error-9@10.0.0.5/wh")
    assert error_dict(exc) == {
        "type": "RuntimeError",
        "message": "cannot connect to postgresql://etl:***@10.0.0.5/wh",
    }


def test_nested_values_are_redacted_and_other_values_kept() -> None:
    value = {"a": ["redis://:pw-nested-1@r/0", 3], "b": None, "c": {"d": "x"}}
    assert redact_value(value) == {"a": ["redis://:***@r/0", 3], "b": None, "c": {"d": "x"}}


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_log_lines_and_tracebacks_are_redacted(formatter: logging.Formatter) -> None:
    try:
        raise ValueError("bad DSN postgresql://u:pw-in-trace-7@h/d")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "connecting to %s",
            ("redis://:pw-arg-8@r/0",),
            sys.exc_info(),
        )
    RedactFilter().filter(record)
    line = formatter.format(record)
    assert "pw-in-trace-7" not in line and "pw-arg-8" not in line
    assert "redis://:***@r/0" in line and "postgresql://u:***@h/d" in line
