"""Params of the `system.*` kinds: canary, housekeeping, retention."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from core.params.common import Params


class EchoParams(Params):
    payload: Any = Field(default=None, description="Any JSON value; returned as the result.")
    sleep_s: float = Field(default=0.0, ge=0, le=600, description="Seconds to wait first.")
    fail_with: str | None = Field(
        default=None, max_length=500, description="If set, the job fails with this message."
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
