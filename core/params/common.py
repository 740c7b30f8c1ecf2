"""Pieces shared by the params models of every family."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

FileId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]


class Params(BaseModel):
    """Base of every job kind's params: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
