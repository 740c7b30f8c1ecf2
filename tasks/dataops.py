"""`dataops.*` kinds."""

from __future__ import annotations

import csv
from typing import Any

import pandas as pd

from core.errors import InvalidInput
from core.params.dataops import ProfileParams
from domain.dataops.profile import profile_frame
from tasks.base import JobContext, job_task


@job_task("dataops.profile")
def profile(ctx: JobContext, params: ProfileParams) -> dict[str, Any]:
    """Profile an uploaded CSV: rows, columns, dtypes, nulls, basic statistics."""
    record = ctx.file_record(params.file_id)
    with ctx.local_file(params.file_id) as path:
        try:
            frame = pd.read_csv(
                path, nrows=params.sample_rows, encoding_errors="replace", on_bad_lines="error"
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
            raise InvalidInput(f"file {record.name!r} is not a readable CSV: {exc}") from exc
    result = profile_frame(frame)
    result["file"] = {"id": record.id, "name": record.name, "sha256": record.sha256}
    return result
