"""Params of the `dataops.*` kinds."""

from __future__ import annotations

from pydantic import Field

from core.params.common import FileId, Params


class ProfileParams(Params):
    file_id: FileId = Field(description="An uploaded CSV file (POST /api/v1/files).")
    sample_rows: int | None = Field(
        default=None, gt=0, description="Profile only the first N rows (default: all)."
    )
