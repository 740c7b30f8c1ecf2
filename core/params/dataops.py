"""Params of the `dataops.*` kinds.

The ETL spec's transforms and checks are validated at submit by the domain's own models
(imported lazily, as they bring pandas), so an unknown transform or check, a bad
expression or regex is a 422 before anything runs.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from core.errors import InvalidInput
from core.params.common import DATASET_VERSION, FileId, Params
from core.validation import human_pattern

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


class ProfileParams(Params):
    file_id: FileId | None = Field(default=None, description="An uploaded CSV file.")
    dataset: str | None = Field(
        default=None,
        pattern=DATASET_VERSION,
        description="Or a dataset version, NAME@VERSION.",
    )
    sample_rows: int | None = Field(
        default=None, gt=0, description="Profile only the first N rows (default: all)."
    )

    @model_validator(mode="after")
    def _one(self) -> ProfileParams:
        if (self.file_id is None) == (self.dataset is None):
            raise ValueError("give exactly one of file_id or dataset")
        return self


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: FileId | None = Field(default=None, description="An uploaded file.")
    path: str | None = Field(
        default=None,
        max_length=1000,
        description="A file under $TRIOPS_HOME/data (relative path).",
    )
    dataset: str | None = Field(
        default=None,
        pattern=DATASET_VERSION,
        description="A dataset version, NAME@VERSION.",
    )
    connection: str | None = Field(
        default=None,
        pattern=human_pattern(
            r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
            "{input} is not a connection name: a name from TRIOPS_SQL_CONNECTIONS (letters, "
            "digits, '_' and '-'), never a DSN",
        ),
        description="A named SQL connection from TRIOPS_SQL_CONNECTIONS (never a DSN).",
    )
    query: str | None = Field(
        default=None,
        max_length=20_000,
        description="SELECT to run read-only on the connection; :name binds a parameter.",
    )
    format: Literal["csv", "jsonl", "parquet"] | None = Field(
        default=None, description="Default: from the file name (csv otherwise)."
    )
    delimiter: str = Field(default=",", min_length=1, max_length=1)

    @field_validator("path")
    @classmethod
    def _inside_data_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        pure = PurePosixPath(value)
        if pure.is_absolute() or ".." in pure.parts or "\\" in value or "\x00" in value:
            raise ValueError("path must be relative to the data directory, without '..'")
        return value

    @model_validator(mode="after")
    def _one(self) -> Source:
        given = [
            self.file_id is not None,
            self.path is not None,
            self.connection is not None,
            self.dataset is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                "give exactly one of file_id, path, dataset or connection (with query)"
            )
        if (self.connection is None) != (self.query is None):
            raise ValueError("connection and query go together")
        return self

    def format_of(self, name: str) -> TableFormat:
        """The file's format: `format` when given, else from the name (CSV by default)."""
        return table_format(name, self.format)


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")

    table: str | None = Field(
        default=None,
        pattern=human_pattern(
            r"^[a-z][a-z0-9_]{0,50}$",
            "{input} is not a table name: lowercase letters, digits and '_', starting with a "
            "letter, up to 51",
        ),
        description="Warehouse table (wh_<table> in the triops database).",
    )
    mode: Literal["append", "replace", "upsert"] = "replace"
    keys: list[str] = Field(default_factory=list, max_length=20)
    dataset: str | None = Field(
        default=None,
        pattern=human_pattern(
            r"^[a-z][a-z0-9_.-]{0,99}$",
            "{input} is not a dataset name: lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter, up to 100",
        ),
        description="Also write a dataset version (Parquet) under this name.",
    )

    @model_validator(mode="after")
    def _checks(self) -> Target:
        if self.table is None and self.dataset is None:
            raise ValueError("a target needs a table, a dataset, or both")
        if self.mode == "upsert" and not self.keys:
            raise ValueError("upsert needs keys")
        return self


def _validate_steps(transforms: list[Any], checks: list[Any]) -> None:
    from pydantic import ValidationError

    from domain.dataops.spec import EtlSteps

    try:
        EtlSteps.model_validate({"transforms": transforms, "checks": checks})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise ValueError(problems) from exc


class ValidateParams(Params):
    source: Source
    transforms: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    checks: list[dict[str, Any]] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _steps(self) -> ValidateParams:
        _validate_steps(self.transforms, self.checks)
        return self


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,39})\}")


def substitute(text: str, parameters: dict[str, str]) -> str:
    """`{name}` placeholders replaced by parameter values (no format-string machinery)."""
    return PLACEHOLDER.sub(lambda m: parameters[m.group(1)], text)


class EtlParams(ValidateParams):
    target: Target
    max_reject_ratio: float = Field(
        default=0.1, ge=0, le=1, description="Fail before loading above this share quarantined."
    )
    parameters: dict[
        Annotated[
            str,
            StringConstraints(
                pattern=human_pattern(
                    r"^[A-Za-z_][A-Za-z0-9_]{0,39}$",
                    "{input} is not a parameter name: letters, digits and '_', up to 40",
                )
            ),
        ],
        Annotated[
            str,
            StringConstraints(
                pattern=human_pattern(
                    r"^(@today|@yesterday|[A-Za-z0-9_:+-]+(\.[A-Za-z0-9_:+-]+)*)$",
                    "{input} is not a parameter value: @today, @yesterday, or letters, "
                    "digits and _:+- in dot-separated parts (no '/' or '..')",
                ),
                max_length=100,
            ),
        ],
    ] = Field(
        default_factory=dict,
        description="Values for {name} placeholders in source.path, e.g. {'date': '2026-11-25'}.",
    )

    parallel: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Split a CSV file into this many parts run by the dataops workers side by side "
            "(a Celery chord), then load them in one commit."
        ),
    )

    @model_validator(mode="after")
    def _placeholders(self) -> EtlParams:
        if self.source.path is not None:
            missing = sorted(set(PLACEHOLDER.findall(self.source.path)) - set(self.parameters))
            if missing:
                raise ValueError(f"source.path needs parameters {missing}")
        return self

    @model_validator(mode="after")
    def _splittable(self) -> EtlParams:
        if self.parallel == 1:
            return self
        if self.source.file_id is None and self.source.path is None:
            raise ValueError("parallel needs a file source (file_id or path)")
        if self.source.format not in (None, "csv"):
            raise ValueError("parallel splits CSV files only")
        ordered = sorted(
            {str(t.get("type")) for t in self.transforms} & {"deduplicate", "aggregate"}
        )
        if ordered:
            raise ValueError(
                f"parallel cannot run {ordered}: they need rows from every part; use parallel 1"
            )
        return self

    def resolved_parameters(self, today: date) -> dict[str, str]:
        """Parameters with `@today` / `@yesterday` as ISO dates (for scheduled runs)."""
        relative = {"@today": today, "@yesterday": today - timedelta(days=1)}
        return {
            k: relative[v].isoformat() if v in relative else v for k, v in self.parameters.items()
        }

    def resolved_source(self, today: date) -> Source:
        if self.source.path is None or not self.parameters:
            return self.source
        return self.source.model_copy(
            update={"path": substitute(self.source.path, self.resolved_parameters(today))}
        )
