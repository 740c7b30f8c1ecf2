"""Pieces shared by the kinds of every family: params types, file checks, schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.orm import Session

from core import files
from core.errors import InvalidInput, NotFound
from core.validation import human_pattern

if TYPE_CHECKING:
    from core.kinds.kind import JobKind

FileId = Annotated[
    str,
    StringConstraints(
        pattern=human_pattern(
            r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            "{input} is not a file id: upload the file with POST /api/v1/files and pass the "
            "id it returns",
        )
    ),
]

AN_UPLOAD = "0b7c1c9e-3f6a-4c4e-9a55-3d2f4b8e1a20"
"""A file id of the form the API gives, for the examples in the OpenAPI document."""

NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"

MODEL_NAME = human_pattern(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    "{input} is not a model name: " + NAME_RULE + ", up to 100",
)
ALIAS_NAME = human_pattern(
    r"^[A-Za-z][A-Za-z0-9_-]{0,99}$",
    "{input} is not an alias name: letters, digits, '_' and '-', starting with a letter, up to 100",
)


class Params(BaseModel):
    """Base of every job kind's params: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


TableFormat = Literal["csv", "jsonl", "parquet"]

NOT_TABLES = {"log": "a log", "gz": "a compressed file", "zip": "a compressed file"}
"""File name suffixes that are never a table, and what they are instead."""


def table_format(name: str, declared: TableFormat | None = None) -> TableFormat:
    """A file's table format: `declared` when given, else from its name (CSV by default).

    Raises InvalidInput for a name that is never a table (`app.log`), naming what to give.
    """
    if declared is not None:
        return declared
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in NOT_TABLES:
        hint = " (logs are read by aiops.parse_logs)" if suffix == "log" else ""
        raise InvalidInput(
            f"file {name!r} is {NOT_TABLES[suffix]}, not a table: give a CSV, JSON Lines "
            f"(.jsonl) or Parquet file{hint}"
        )
    return "parquet" if suffix == "parquet" else "jsonl" if suffix in ("jsonl", "json") else "csv"


def file_ids(params: BaseModel) -> list[str]:
    """Every uploaded file the params name (`file_id` fields, nested ones included)."""
    found: list[str] = []
    for name, value in params:
        if name == "file_id" and isinstance(value, str):
            found.append(value)
        elif isinstance(value, BaseModel):
            found += file_ids(value)
    return found


def check_files(session: Session, params: BaseModel) -> None:
    """Every file the params name must have been uploaded (422 saying how otherwise)."""
    for file_id in file_ids(params):
        try:
            files.get_file(session=session, file_id=file_id)
        except NotFound as exc:
            raise InvalidInput(
                f"unknown file_id {file_id}: upload it first with POST /api/v1/files",
                details=[{"loc": ["params", "file_id"], "msg": "file not found"}],
            ) from exc


def check_table_file(session: Session, file_id: str | None) -> None:
    """An uploaded file given where a table is expected must be one (a log is refused)."""
    if file_id is not None:
        table_format(files.get_file(session=session, file_id=file_id).name)


def every(
    name: str,
    kind: JobKind[Any],
    seconds: float,
    description: str,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A built-in schedule running `kind` every `seconds`."""
    return {
        "name": name,
        "kind": kind.name,
        "interval_s": float(seconds),
        "params": params or {},
        "description": description,
    }
