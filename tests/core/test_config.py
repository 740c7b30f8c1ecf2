from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import Settings, normalise_database_url


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRIOPS_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'triops.db'}"
    assert settings.redis_url == f"redis+socket://{tmp_path / 'redis.sock'}"
    assert settings.uses_embedded_redis and settings.uses_sqlite
    assert settings.api_port == 8000 and settings.flower_port == 5555
    assert settings.artifacts_url == str(tmp_path / "artifacts")


def test_settings_come_from_a_mapping_not_the_process_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_API_PORT": "9001",
            "TRIOPS_REDIS_URL": "redis://example:6379/2",
            "OTHER": "ignored",
        }
    )
    assert settings.api_port == 9001
    assert settings.redis_url == "redis://example:6379/2"
    assert not settings.uses_embedded_redis
    assert settings.api_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_get_the_psycopg_driver(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize("token", ["", "changeme", "short"])
def test_production_refuses_a_missing_or_placeholder_token(tmp_path: Path, token: str) -> None:
    env = {"TRIOPS_HOME": str(tmp_path), "TRIOPS_ENVIRONMENT": "production"}
    if token:
        env["TRIOPS_API_TOKEN"] = token
    with pytest.raises(ValidationError, match="TRIOPS_API_TOKEN"):
        Settings.from_env(env)


def test_without_a_token_one_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRIOPS_HOME": str(tmp_path)})
    token = settings.admin_token()
    assert len(token) >= 24
    assert settings.admin_token() == token
    assert (tmp_path / "api-token").stat().st_mode & 0o077 == 0


def test_child_processes_get_the_same_configuration(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRIOPS_HOME": str(tmp_path), "TRIOPS_API_TOKEN": "x" * 20})
    again = Settings.from_env(settings.process_env())
    assert again.database_url == settings.database_url
    assert again.redis_url == settings.redis_url
    assert again.admin_token() == "x" * 20


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", "1db"])
def test_a_sql_connection_name_that_is_not_a_plain_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="TRIOPS_SQL_CONNECTIONS name"):
        Settings.from_env({"TRIOPS_SQL_CONNECTIONS": json.dumps({name: "sqlite:///x.db"})})
