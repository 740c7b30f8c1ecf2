"""The `system.*` kinds: canary, housekeeping, retention — served by every pool."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.config import Settings
from core.kinds.common import Params, every
from core.kinds.kind import SYSTEM_QUEUE, JobKind


class EchoParams(Params):
    payload: Any = Field(default=None, description="Any JSON value; returned as the result.")
    sleep_s: float = Field(default=0.0, ge=0, le=600, description="Seconds to wait first.")
    fail_with: str | None = Field(
        default=None, max_length=500, description="If set, the job fails with this message."
    )
    exit_process: bool = Field(
        default=False,
        description="Fault drills: the worker process running it dies at once (refused unless "
        "the worker runs with TRIOPS_FAULT_DRILLS=1).",
    )
    transient_failures: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Fail the first N attempts as if a service were down (exercises retries).",
    )


class HousekeepingParams(Params):
    lost_after_s: float | None = Field(
        default=None,
        gt=0,
        description="A queued job older than this with no message in the broker is lost "
        "(default: TRIOPS_LOST_JOB_AFTER_S).",
    )


class RetentionParams(Params):
    older_than_days: float | None = Field(
        default=None,
        gt=0,
        description="Delete artifacts of finished jobs older than this "
        "(default: TRIOPS_ARTIFACT_RETENTION_DAYS).",
    )


ECHO = JobKind(
    "system.echo",
    SYSTEM_QUEUE,
    EchoParams,
    "Canary: returns its payload (optionally after a wait, or failing on purpose).",
    time_limit_s=900,
    example={"payload": {"hello": "triops"}},
)
HOUSEKEEPING = JobKind(
    "system.housekeeping",
    SYSTEM_QUEUE,
    HousekeepingParams,
    "Re-sends or fails queued jobs whose broker message was lost; fails stale running jobs.",
    time_limit_s=300,
    max_attempts=1,
    example={"lost_after_s": 300},
)
RETENTION = JobKind(
    "system.retention",
    SYSTEM_QUEUE,
    RetentionParams,
    "Deletes artifacts of finished jobs older than the retention period.",
    time_limit_s=1800,
    max_attempts=1,
    example={"older_than_days": 30},
)

KINDS = (ECHO, HOUSEKEEPING, RETENTION)


def schedules(settings: Settings) -> list[dict[str, Any]]:
    return [
        every(
            "housekeeping",
            HOUSEKEEPING,
            settings.housekeeping_interval_s,
            "re-send lost messages, fail jobs nobody runs",
        ),
        every(
            "artifact-retention",
            RETENTION,
            settings.retention_interval_s,
            "delete artifacts of old jobs",
        ),
    ]
