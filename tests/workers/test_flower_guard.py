"""Flower's REST API revokes and terminates tasks: off loopback it needs basic auth."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.config import Settings
from workers.cli import main
from workers.launcher import flower_refusal, is_loopback

EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - the address under test, never bound


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.3", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        (EVERY_INTERFACE, False),
        ("::", False),
        ("192.168.1.4", False),
        ("flower.example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_flower_may_listen_on_loopback_without_auth() -> None:
    assert flower_refusal(Settings.from_env({"TRIOPS_FLOWER_HOST": "127.0.0.1"})) is None


def test_flower_on_every_interface_without_auth_is_refused_with_what_to_set() -> None:
    refusal = flower_refusal(Settings.from_env({"TRIOPS_FLOWER_HOST": EVERY_INTERFACE}))
    assert refusal is not None
    assert "TRIOPS_FLOWER_BASIC_AUTH" in refusal and "0.0.0.0" in refusal  # noqa: S104


def test_flower_on_every_interface_with_basic_auth_is_allowed() -> None:
    settings = Settings.from_env(
        {"TRIOPS_FLOWER_HOST": EVERY_INTERFACE, "TRIOPS_FLOWER_BASIC_AUTH": "ops:s3cret-pass"}
    )
    assert flower_refusal(settings) is None


@pytest.mark.parametrize("auth", ["ops", "ops:", ":pass"])
def test_basic_auth_must_be_user_colon_password(auth: str) -> None:
    settings = Settings.from_env(
        {"TRIOPS_FLOWER_HOST": EVERY_INTERFACE, "TRIOPS_FLOWER_BASIC_AUTH": auth}
    )
    refusal = flower_refusal(settings)
    assert refusal is not None and "user:password" in refusal


@pytest.mark.parametrize("command", [["flower"], ["up"]])
def test_the_cli_refuses_to_start_flower_exposed_without_auth(command: list[str]) -> None:
    result = CliRunner().invoke(
        main,
        command,
        env={"TRIOPS_FLOWER_HOST": EVERY_INTERFACE, "TRIOPS_FLOWER_BASIC_AUTH": None},
    )
    assert result.exit_code == 2
    assert "without basic auth" in result.output
    assert "TRIOPS_FLOWER_BASIC_AUTH=user:password" in result.output
