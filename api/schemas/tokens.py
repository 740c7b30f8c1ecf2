"""API tokens: what an admin sends to create one and what it gets back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["read", "submit", "admin"] = Field(
        description="read: every GET; submit: also submit, cancel, deploy, alerts, schedules, "
        "uploads; admin: also manage tokens."
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Unique; default `token-<first 8 hex digits of its hash>`.",
    )
    expires: str | None = Field(
        default=None,
        max_length=64,
        description="A duration from now (90m, 12h, 30d, 2w) or an ISO date or date-time (UTC).",
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="The token itself: shown this once, never stored.")
