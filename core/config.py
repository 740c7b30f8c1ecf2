"""Settings: one pydantic-settings class, read once, passed down.

Every value comes from the environment with the `TRIOPS_` prefix. The defaults are
the embedded ones: SQLite and a Redis socket under `$TRIOPS_HOME`, so one laptop
runs the whole system with nothing configured.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

API_PREFIX = "/api/v1"
"""Where the HTTP API's routes live."""

PLACEHOLDER_SECRETS = {"changeme", "change-me", "changethis", "secret", "token", "admin"}


_CONNECTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


class Settings(BaseSettings):
    """Configuration of every triops process (API, workers, beat, CLI)."""

    model_config = SettingsConfigDict(env_prefix="TRIOPS_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    home: Path = Path("var")
    database_url: str = ""
    # Connections each process keeps (as many again in overflow): the API's threads share
    # them; a worker's pool process needs one or two (`triops worker` sets 2).
    db_pool_size: int = Field(default=10, ge=1, le=100)
    redis_url: str = ""
    artifacts_url: str = ""
    files_url: str = ""
    # An S3-compatible object store for `s3://` URLs (MinIO, Ceph, ...): its endpoint and
    # credentials. Unset, the standard AWS variables and files apply (AWS_ACCESS_KEY_ID,
    # AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, ~/.aws, an IAM role).
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    data_dir: Path | None = None

    api_token: SecretStr | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_url: str = ""
    api_workers: int = 1
    max_upload_bytes: int = 200 * 1024 * 1024
    # Refused at the edge, before the body is read or the token checked (docs/security.md):
    # a request body (JSON or form) over this size is a 413 (uploads: max_upload_bytes).
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # JSON nested deeper than this many levels (objects and arrays) is a 422.
    max_json_depth: int = Field(default=64, ge=2, le=1000)
    # A job's params, serialised as JSON, over this size is a 413 (big inputs are files).
    max_params_bytes: int = Field(default=1024 * 1024, ge=1024)
    # A job's result, serialised as JSON, over this size fails the job with the reason
    # (big outputs belong in artifacts, which have no such limit).
    max_result_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # A batch submit sends up to this many jobs of one kind in one broker message, run in
    # turn by one pool process (core/bundles.py); 1 sends every job alone.
    bundle_jobs: int = Field(default=50, ge=1, le=1000)

    # Logs: JSON lines (one object per line, with job_id/kind/pool or request_id) or text.
    log_json: bool = False
    # A worker serves its pool's Prometheus metrics on this port (0: not served).
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"

    # Celery task events (received, started, succeeded, ... and sent, from the API) for
    # Flower's task views. Off, a worker publishes none — three fewer Redis messages per
    # job; a running Flower switches them on in the workers by itself (every 5 s), so the
    # cost is paid while someone watches. On: always, from the start.
    task_events: bool = False

    flower_port: int = 5555
    flower_host: str = "127.0.0.1"
    flower_basic_auth: SecretStr | None = None

    # Pools: concurrency 0 means "one per core".
    aiops_concurrency: int = 0
    mlops_concurrency: int = 1
    dataops_concurrency: int = 2
    dataops_max_memory_per_child_kb: int = 2 * 1024 * 1024
    # An aiops process is replaced once it holds more than this (a big log file's miner
    # state), not after a count of jobs: replacing processes every N short jobs cost a
    # dip in throughput at each replacement.
    aiops_max_memory_per_child_kb: int = 1024 * 1024
    mlops_max_tasks_per_child: int = 20

    # Housekeeping and retention.
    housekeeping_interval_s: float = 60.0
    lost_job_after_s: float = 300.0
    max_resends: int = 3
    artifact_retention_days: float = 30.0
    retention_interval_s: float = 3600.0

    # AIOps: correlation, incidents, notifications, the example periodic scan.
    correlation_interval_s: float = 60.0
    service_dependencies: dict[str, list[str]] = {}
    incident_quiet_s: float = 1800.0
    incident_stale_s: float | None = 86400.0
    auto_resolve_interval_s: float = 300.0
    incident_webhook_url: str | None = None
    webhook_max_attempts: int = 10
    notification_interval_s: float = 30.0
    aiops_scan_interval_s: float = 0.0
    aiops_scan_kind: str = ""  # default: the metric anomaly kind
    aiops_scan_params: dict[str, Any] = {}

    # MLOps: recorded with every model version (e.g. a git commit, set by the deploy).
    code_version: str | None = None
    # Drift checks run by beat: {"model": {"dataset": ...} or {"file_id": ..., ...}}.
    drift_checks: dict[str, dict[str, Any]] = {}
    drift_check_interval_s: float = 86400.0

    # DataOps: SQL sources by name, {"crm": "postgresql://reader@db/crm"}; jobs name
    # a connection, never a DSN.
    sql_connections: dict[str, str] = {}
    # ETL specs run by beat: {"nightly-sales": {"crontab": "0 2 * * *", "params": {...}}}
    # (or "interval_s" instead of "crontab"); times are UTC.
    etl_schedules: dict[str, dict[str, Any]] = {}
    # ETL inputs are read, transformed, checked and staged this many rows at a time: a
    # worker's memory follows this number, not the size of the file.
    etl_chunk_rows: int = Field(default=100_000, ge=100)

    # Schedules: a firing up to this late counts as on time; later, its misfire policy
    # (skip, or run once) applies.
    schedule_grace_s: float = Field(default=30.0, ge=0)

    # Lets `system.echo` kill its own worker process (`exit_process`), for fault drills.
    fault_drills: bool = False

    # Modules that declare more job kinds (and name the modules of their bodies), imported
    # by every process at start: ["mycompany.triops_kinds"].
    plugins: list[str] = []

    # Retries of transient failures (broker, database, network) inside a job.
    retry_backoff_s: float = 2.0
    retry_max_backoff_s: float = 300.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Values come only from the mapping given to `from_env`, never from a hidden read
        # of the process environment: one path, and tests that cannot leak into each other.
        return (init_settings,)

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("sql_connections", mode="after")
    @classmethod
    def _plain_connection_names(cls, value: dict[str, str]) -> dict[str, str]:
        # The names jobs may give (core/kinds/dataops.py), never a path or a DSN.
        for name in value:
            if not _CONNECTION_NAME.fullmatch(name):
                raise ValueError(
                    f"TRIOPS_SQL_CONNECTIONS name {name!r} must be letters, digits, '_' and "
                    "'-', starting with a letter, up to 64"
                )
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'triops.db'}"
        self.database_url = normalise_database_url(self.database_url)
        if not self.redis_url:
            self.redis_url = f"redis+socket://{self.redis_socket}"
        if not self.artifacts_url:
            self.artifacts_url = str(self.home / "artifacts")
        if not self.files_url:
            self.files_url = str(self.home / "files")
        if not self.api_url:
            host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::") else self.api_host  # noqa: S104
            self.api_url = f"http://{host}:{self.api_port}"
        if self.data_dir is None:
            self.data_dir = self.home / "data"
        if self.environment == "production":
            token = self.api_token.get_secret_value() if self.api_token else ""
            if not token or token.lower() in PLACEHOLDER_SECRETS or len(token) < 16:
                raise ValueError(
                    "TRIOPS_API_TOKEN must be set to a real secret (16+ characters) in production"
                )
        return self

    @property
    def redis_socket(self) -> Path:
        """The unix socket of the embedded Redis."""
        return self.home / "redis.sock"

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url == f"redis+socket://{self.redis_socket}"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def scratch_dir(self) -> Path:
        """Where a job copies a blob it needs as a local file (removed after use)."""
        return self.home / "tmp"

    @property
    def token_file(self) -> Path:
        return self.home / "api-token"

    @property
    def data_root(self) -> Path:
        assert self.data_dir is not None
        return self.data_dir

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from a mapping, so tests never patch `os.environ`."""
        prefix = "TRIOPS_"
        values: dict[str, Any] = {}
        for key, value in environ.items():
            if not key.startswith(prefix) or value == "":
                continue
            name = key[len(prefix) :].lower()
            field = cls.model_fields.get(name)
            if field is not None and get_origin(field.annotation) in (dict, list):
                # Structured settings are JSON in the environment, as pydantic-settings reads them.
                try:
                    values[name] = json.loads(value)
                except ValueError as exc:
                    raise ValueError(f"{key} must be JSON: {exc}") from exc
            else:
                values[name] = value
        return cls.model_validate(values)

    def admin_token(self) -> str:
        """The admin API token: `TRIOPS_API_TOKEN`, else one kept in `$TRIOPS_HOME/api-token`.

        The file is created on first use with a random token readable only by its owner,
        so a laptop install is never open to anyone on the network.
        """
        if self.api_token is not None:
            return self.api_token.get_secret_value()
        path = self.token_file
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(token + "\n")
        tmp.chmod(0o600)
        tmp.replace(path)
        return token

    def secret_values(self) -> list[str]:
        """Every secret these settings hold (token, passwords in URLs, basic auth), for
        `core.redaction` to mask wherever text is logged, stored or printed."""
        from core.redaction import secrets_of_url

        values: list[str] = []
        for secret in (self.api_token, self.flower_basic_auth):
            if secret is not None:
                value = secret.get_secret_value()
                values += [value, value.partition(":")[2]]
        for url in (
            self.database_url,
            self.redis_url,
            self.incident_webhook_url,
            *self.sql_connections.values(),
        ):
            values += secrets_of_url(url)
        return values

    def export_lines(self) -> list[str]:
        """The `export` lines a second shell needs to reach this stack: the CLI finds it
        through TRIOPS_HOME and TRIOPS_API_URL, curl examples use TOKEN and API."""
        values = {
            "TRIOPS_HOME": str(self.home),
            "TRIOPS_API_URL": self.api_url,
            "TOKEN": self.admin_token(),
            "API": f"{self.api_url}/api/v1",
        }
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]

    def process_env(self) -> dict[str, str]:
        """The environment a child process needs to see the same configuration."""
        env = {
            "TRIOPS_ENVIRONMENT": self.environment,
            "TRIOPS_HOME": str(self.home),
            "TRIOPS_DATABASE_URL": self.database_url,
            "TRIOPS_REDIS_URL": self.redis_url,
            "TRIOPS_ARTIFACTS_URL": self.artifacts_url,
            "TRIOPS_FILES_URL": self.files_url,
            "TRIOPS_DATA_DIR": str(self.data_root),
            "TRIOPS_API_PORT": str(self.api_port),
            "TRIOPS_FLOWER_PORT": str(self.flower_port),
            "TRIOPS_API_TOKEN": self.admin_token(),
            "TRIOPS_SERVICE_DEPENDENCIES": json.dumps(self.service_dependencies),
            "TRIOPS_AIOPS_SCAN_PARAMS": json.dumps(self.aiops_scan_params),
            "TRIOPS_DRIFT_CHECKS": json.dumps(self.drift_checks),
            "TRIOPS_SQL_CONNECTIONS": json.dumps(self.sql_connections),
            "TRIOPS_ETL_SCHEDULES": json.dumps(self.etl_schedules),
            "TRIOPS_ETL_CHUNK_ROWS": str(self.etl_chunk_rows),
            "TRIOPS_PLUGINS": json.dumps(self.plugins),
            "TRIOPS_LOG_JSON": "1" if self.log_json else "0",
            "TRIOPS_TASK_EVENTS": "1" if self.task_events else "0",
        }
        if self.incident_webhook_url:
            env["TRIOPS_INCIDENT_WEBHOOK_URL"] = self.incident_webhook_url
        if self.s3_endpoint_url:
            env["TRIOPS_S3_ENDPOINT_URL"] = self.s3_endpoint_url
        if self.s3_access_key_id:
            env["TRIOPS_S3_ACCESS_KEY_ID"] = self.s3_access_key_id
        if self.s3_secret_access_key is not None:
            env["TRIOPS_S3_SECRET_ACCESS_KEY"] = self.s3_secret_access_key.get_secret_value()
        if self.flower_basic_auth is not None:
            env["TRIOPS_FLOWER_BASIC_AUTH"] = self.flower_basic_auth.get_secret_value()
        return env


def normalise_database_url(url: str) -> str:
    """Pick the psycopg 3 driver for PostgreSQL URLs that name none."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    import os

    from core.redaction import register_secrets

    settings = Settings.from_env(os.environ)
    register_secrets(settings.secret_values())
    return settings


def workers_per_pool_default(concurrency: int) -> int:
    """Concurrency 0 means one worker process per core."""
    import os

    return concurrency if concurrency > 0 else max(1, os.cpu_count() or 1)
