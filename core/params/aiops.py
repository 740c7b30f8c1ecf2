"""Params of the `aiops.*` kinds."""

from __future__ import annotations

from pydantic import Field

from core.params.common import FileId, Params


class ParseLogsParams(Params):
    file_id: FileId = Field(description="An uploaded log file (POST /api/v1/files).")
    log_format: str | None = Field(
        default=None,
        max_length=2000,
        description="Loghub-style header format, e.g. '<Date> <Time> <Level> <Component>: "
        "<Content>'. Without it each whole line is the content.",
    )
