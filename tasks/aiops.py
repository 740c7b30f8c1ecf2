"""`aiops.*` kinds."""

from __future__ import annotations

import csv
import io
from typing import Any

from domain.aiops.logparse import parse_log

from core.params.aiops import ParseLogsParams
from tasks.base import JobContext, job_task


def read_lines(ctx: JobContext, file_id: str) -> list[str]:
    """An uploaded log as text lines; undecodable bytes become replacement characters."""
    with ctx.open_file(file_id) as handle:
        text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline=None)
        return [line.rstrip("\n") for line in text]


@job_task("aiops.parse_logs")
def parse_logs(ctx: JobContext, params: ParseLogsParams) -> dict[str, Any]:
    """Mine log templates; write structured.csv and templates.csv."""
    lines = read_lines(ctx, params.file_id)
    ctx.progress(0.1, f"parsing {len(lines)} lines", force=True)
    parsed = parse_log(lines, log_format=params.log_format)
    ctx.progress(0.8, "writing artifacts", force=True)
    structured = io.StringIO()
    writer = csv.DictWriter(
        structured,
        fieldnames=["LineId", *parsed.header_fields, "EventId", "EventTemplate"],
        extrasaction="ignore",
    )
    writer.writeheader()
    writer.writerows(parsed.rows)
    ctx.save_artifact("structured.csv", structured.getvalue().encode(), "text/csv")
    templates = io.StringIO()
    template_writer = csv.writer(templates)
    template_writer.writerow(["EventId", "EventTemplate", "Occurrences"])
    for template in parsed.templates:
        template_writer.writerow([template["id"], template["template"], template["count"]])
    ctx.save_artifact("templates.csv", templates.getvalue().encode(), "text/csv")
    return {
        "lines": parsed.lines,
        "unmatched_lines": parsed.unmatched,
        "template_count": len(parsed.templates),
        "templates": parsed.templates[:200],
    }
