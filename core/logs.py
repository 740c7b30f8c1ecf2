"""Logs: one line per event, plain text by default or JSON (`TRIOPS_LOG_JSON=1`), and
every line written inside a job or a request carries where it came from.

A job's lines carry `job_id`, `kind` and `pool`; a request's carry `request_id`. They are
set in context variables (by `JobTask` and the API's middleware) and added to each
record by `ContextFilter`, so library code logs as usual. Nothing here ever reads a
request header or a setting that could hold a secret, and `RedactFilter` masks what a
message or a traceback would show of one (a DSN's password, the API token; see
`core/redaction.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from core.redaction import redact

_context: ContextVar[dict[str, str] | None] = ContextVar("triops_log_context", default=None)

FIELDS = ("job_id", "kind", "pool", "request_id")
"""The context fields a line may carry."""

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Every line logged inside the block carries `fields` (job_id, kind, pool, ...)."""
    token = _context.set({**(_context.get() or {}), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def request_context(request_id: str) -> Any:
    return log_context(request_id=request_id)


class ContextFilter(logging.Filter):
    """Adds the current job's or request's fields to each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class RedactFilter(logging.Filter):
    """Masks secrets in the message and the traceback of each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context fields and
    any `extra` a call passed; an exception's traceback as `exc_info`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_text:
            line["exc_info"] = record.exc_text
        elif record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the job's or request's fields appended when present."""

    def __init__(self) -> None:
        super().__init__("[%(asctime)s: %(levelname)s/%(processName)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(f"{k}={getattr(record, k)}" for k in FIELDS if hasattr(record, k))
        return f"{text} [{fields}]" if fields else text


def configure(*, json_lines: bool, level: int | str = logging.INFO) -> None:
    """Route every logger through one handler on stderr with our formatter and filter
    (the API, beat and each worker process call this at start)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def attach(logger: logging.Logger, *, json_lines: bool) -> None:
    """Put our formatter and filter on the handlers a library already set up (Celery's)."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
        handler.addFilter(ContextFilter())
        handler.addFilter(RedactFilter())
