"""docker-compose.yml describes the same system; every service command is a real triops command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from workers.cli import main

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"
PYTHON_SERVICES = {
    "migrate",
    "api",
    "worker-aiops",
    "worker-mlops",
    "worker-dataops",
    "beat",
    "flower",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_has_every_service_of_the_system(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == PYTHON_SERVICES | {
        "redis",
        "postgres",
        "prometheus",
        "grafana",
        "minio",
        "minio-init",
    }


def test_every_python_service_uses_one_image(compose: dict[str, Any]) -> None:
    images = {compose["services"][name]["image"] for name in PYTHON_SERVICES}
    assert images == {"triops:latest"}


@pytest.mark.parametrize("name", sorted(PYTHON_SERVICES))
def test_each_service_command_is_a_real_triops_command(compose: dict[str, Any], name: str) -> None:
    command = compose["services"][name]["command"]
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: main" in result.output


def test_redis_keeps_an_append_only_file(compose: dict[str, Any]) -> None:
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_long_running_services_have_healthchecks_and_wait_for_healthy_dependencies(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in PYTHON_SERVICES - {"migrate"} | {"redis", "postgres"}:
        assert "healthcheck" in services[name], name
    for name in PYTHON_SERVICES - {"migrate", "flower"}:
        depends = services[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_every_python_service_keeps_blobs_in_the_minio_bucket(compose: dict[str, Any]) -> None:
    for name in PYTHON_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["TRIOPS_ARTIFACTS_URL"] == "s3://triops/artifacts", name
        assert env["TRIOPS_FILES_URL"] == "s3://triops/files", name
        assert env["TRIOPS_S3_ENDPOINT_URL"] == "http://minio:9000", name
        # Credentials come from the environment, required, with no default to fall back on.
        assert env["TRIOPS_S3_ACCESS_KEY_ID"] == "${MINIO_ROOT_USER:?set MINIO_ROOT_USER}"
        assert (
            env["TRIOPS_S3_SECRET_ACCESS_KEY"] == "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD}"
        )


def test_minio_keeps_its_data_on_a_volume_and_the_bucket_is_made_before_triops_starts(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    minio = services["minio"]
    assert minio["command"][:2] == ["server", "/data"]
    assert "minio-data:/data" in minio["volumes"] and "minio-data" in compose["volumes"]
    assert "healthcheck" in minio
    for variable in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        for service in ("minio", "minio-init"):
            value = services[service]["environment"][variable]
            assert value.startswith(f"${{{variable}:?"), (service, value)
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(init["entrypoint"])
    assert "mc mb --ignore-existing store/triops" in script
    assert "http://minio:9000" in script
    for name in PYTHON_SERVICES - {"migrate", "flower"}:
        depends = services[name]["depends_on"]
        assert depends["minio-init"]["condition"] == "service_completed_successfully", name


def test_data_and_artifacts_live_on_volumes(compose: dict[str, Any]) -> None:
    assert {"redis-data", "postgres-data", "triops-data"} <= set(compose["volumes"])
    for name in PYTHON_SERVICES:
        assert any(v.startswith("triops-data:") for v in compose["services"][name]["volumes"])


def test_every_python_service_runs_in_production_mode_with_a_token(
    compose: dict[str, Any],
) -> None:
    for name in PYTHON_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["TRIOPS_ENVIRONMENT"] == "production"
        assert "TRIOPS_API_TOKEN" in env


def test_prometheus_scrapes_the_api_and_every_workers_metrics_port(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((COMPOSE.parent / "deploy" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["triops-api"]["static_configs"][0]["targets"] == ["api:8000"]
    discovered = jobs["triops-workers"]["dns_sd_configs"][0]
    workers = {name for name in compose["services"] if name.startswith("worker-")}
    assert set(discovered["names"]) == workers
    env = compose["x-triops-env"]
    assert str(discovered["port"]) == env["TRIOPS_WORKER_METRICS_PORT"]


def test_the_grafana_dashboard_only_charts_metrics_triops_exports() -> None:
    import json
    import re

    from prometheus_client import REGISTRY

    import core.metrics  # noqa: F401 - registers the metrics

    dashboard = json.loads(
        (COMPOSE.parent / "deploy" / "grafana" / "dashboards" / "triops.json").read_text()
    )
    # Every sample name a registered metric may have (_total, _bucket, _sum, ...).
    exported = set(REGISTRY._names_to_collectors) | {"triops_queue_depth"}
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"triops_[a-z_]+", target["expr"]):
                assert name in exported, (panel["title"], name)


EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - what the compose file says, never bound
SECRET_WORDS = ("PASSWORD", "TOKEN", "BASIC_AUTH", "SECRET")


def test_every_secret_comes_from_the_environment_and_compose_refuses_to_start_without_it() -> None:
    import re

    text = COMPOSE.read_text()
    references = re.findall(r"\$\{([A-Z_]+)([^}]*)\}", text)
    secrets = {name: rest for name, rest in references if any(w in name for w in SECRET_WORDS)}
    assert {"POSTGRES_PASSWORD", "TRIOPS_API_TOKEN", "FLOWER_BASIC_AUTH"} <= set(secrets)
    for name, rest in references:
        if name in secrets:
            # ${VAR:?message}: no default, and a message when it is unset or empty.
            assert rest.startswith(":?") and len(rest) > 2, (name, rest)
    # No value (after `:` or `=`, or as a `:-default`) is a well-known placeholder.
    values = re.findall(r"(?::-|[:=]\s*)([^\s}]+)", text)
    for placeholder in ("change-me", "changeme", "password123", "admin:admin", "secret"):
        assert not [v for v in values if v.strip("'\"").lower() == placeholder], placeholder
        assert f":-{placeholder}" not in text.lower(), placeholder
    assert "MINIO_ROOT_PASSWORD" in secrets and "MINIO_ROOT_USER" in {n for n, _ in references}


def test_flower_listens_on_the_network_only_behind_basic_auth(compose: dict[str, Any]) -> None:
    from core.config import Settings
    from workers.launcher import flower_refusal

    env = compose["services"]["flower"]["environment"]
    assert env["TRIOPS_FLOWER_HOST"] == EVERY_INTERFACE
    assert env["TRIOPS_FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    # The guard `triops flower` applies: with the variable given, Flower may start;
    # without it, it would refuse.
    host = {"TRIOPS_FLOWER_HOST": env["TRIOPS_FLOWER_HOST"]}
    given = Settings.from_env({**host, "TRIOPS_FLOWER_BASIC_AUTH": "ops:a-long-password"})
    assert flower_refusal(given) is None
    assert flower_refusal(Settings.from_env(host)) is not None
