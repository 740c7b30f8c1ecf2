"""The `dataops.*` kinds: profile, validate and ETL.

An ETL spec's transforms and checks are the domain's own models
(`domain.dataops.spec`, standard library and pydantic only), parsed once here at submit
and once on the worker: an unknown transform or check, a bad expression or regex, or a
column the source does not have is a 422 before anything runs.
"""

from __future__ import annotations

import csv
import io
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
from sqlalchemy.orm import Session

from core import dataset_versions, files
from core.config import Settings
from core.errors import InvalidInput, NotFound
from core.kinds.common import (
    AN_UPLOAD,
    FileId,
    Params,
    TableFormat,
    check_table_file,
    table_format,
)
from core.kinds.kind import JobKind
from core.storage import file_store
from core.validation import human_pattern
from domain.dataops.refs import DatasetRef, DatasetRefField
from domain.dataops.spec import (
    Aggregate,
    Check,
    Deduplicate,
    Transform,
    dataset_refs,
    validate_against_columns,
)


class ProfileParams(Params):
    file_id: FileId | None = Field(default=None, description="An uploaded CSV file.")
    dataset: DatasetRefField | None = Field(
        default=None, description="Or a dataset version, NAME@VERSION."
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
    dataset: DatasetRefField | None = Field(
        default=None, description="A dataset version, NAME@VERSION."
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
    format: TableFormat | None = Field(
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


class ValidateParams(Params):
    source: Source
    transforms: list[Transform] = Field(default_factory=list, max_length=200)
    checks: list[Check] = Field(default_factory=list, max_length=200)

    @property
    def lookups(self) -> list[DatasetRef]:
        """The dataset versions the steps read besides the source (joins, referential)."""
        return dataset_refs(self.transforms, self.checks)


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
            {t.type for t in self.transforms if isinstance(t, Deduplicate | Aggregate)}
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


# ------------------------------------------------------------------------ prechecks


def _check_dataset(session: Session, ref: DatasetRef | None) -> None:
    if ref is not None:
        dataset_versions.get_version(session=session, name=ref.name, version=ref.version)


def _check_profile(session: Session, params: ProfileParams, settings: Settings | None) -> None:
    check_table_file(session, params.file_id)
    _check_dataset(session, params.dataset)


def _check_spec(session: Session, params: ValidateParams, settings: Settings | None) -> None:
    """The source and the datasets the steps read exist; a named connection is known;
    the columns the spec names are the source's, when they are known without reading it."""
    source = params.source
    known = sorted(settings.sql_connections) if settings is not None else None
    if source.connection is not None and known is not None and source.connection not in known:
        raise InvalidInput(
            f"unknown connection {source.connection!r}; known: "
            + (", ".join(known) or "none (set TRIOPS_SQL_CONNECTIONS)"),
            details={"known_connections": known},
        )
    for ref in [source.dataset, *params.lookups]:
        _check_dataset(session, ref)
    columns = _source_columns(session, source, settings)
    if columns is None:
        return
    problems = validate_against_columns(params.transforms, params.checks, columns)
    if problems:
        raise InvalidInput(f"the spec does not fit the source: {problems}", details=problems)


def _source_columns(
    session: Session, source: Source, settings: Settings | None
) -> list[str] | None:
    """The source's columns when they are known without reading it: a dataset version's
    schema, or the header of an uploaded CSV or Parquet file. (SQL sources and paths with
    parameters are checked when the job starts, before anything is loaded.)"""
    if source.dataset is not None:
        row = dataset_versions.get_version(
            session=session, name=source.dataset.name, version=source.dataset.version
        )
        return [str(c["name"]) for c in row.columns]
    if source.file_id is not None and settings is not None:
        record = files.get_file(session=session, file_id=source.file_id)
        return _file_columns(settings, record.url, source.format_of(record.name), source)
    return None


def _file_columns(
    settings: Settings, url: str, kind: TableFormat, source: Source
) -> list[str] | None:
    """The column names of an uploaded CSV (its header line) or Parquet file (its
    schema); None for other formats or a file that does not read (the job says why)."""
    import pyarrow.parquet as pq  # here, not at the top: the API process stays light

    try:
        with file_store(settings).open(url) as handle:
            if kind == "parquet":
                return [str(c) for c in pq.read_schema(handle).names]
            if kind == "csv":
                text = io.TextIOWrapper(handle, encoding="utf-8", errors="replace", newline="")
                return next(csv.reader(text, delimiter=source.delimiter), None)
    except (OSError, ValueError, csv.Error, NotFound):
        return None
    return None


PROFILE = JobKind(
    "dataops.profile",
    "dataops",
    ProfileParams,
    "Profiles an uploaded table or a dataset version: rows, columns, dtypes, nulls, basic "
    "statistics, broken lines.",
    time_limit_s=1800,
    example={"file_id": AN_UPLOAD},
    precheck=_check_profile,
)
ETL = JobKind(
    "dataops.etl",
    "dataops",
    EtlParams,
    "Extracts a file, transforms it, checks it, quarantines bad rows and loads the rest "
    "into a warehouse table and/or a dataset version.",
    time_limit_s=3600,
    example={
        "source": {"file_id": AN_UPLOAD},
        "transforms": [{"type": "strip", "columns": ["email"]}],
        "checks": [{"type": "not_null", "columns": ["email"]}],
        "target": {"table": "people", "mode": "upsert", "keys": ["id"]},
    },
    precheck=_check_spec,
)
VALIDATE = JobKind(
    "dataops.validate",
    "dataops",
    ValidateParams,
    "Runs an ETL spec's checks alone and returns the failure report.",
    time_limit_s=1800,
    example={
        "source": {"file_id": AN_UPLOAD},
        "checks": [{"type": "not_null", "columns": ["email"]}],
    },
    precheck=_check_spec,
)

KINDS = (PROFILE, ETL, VALIDATE)


def schedules(settings: Settings) -> list[dict[str, Any]]:
    """ETL specs run by beat from TRIOPS_ETL_SCHEDULES."""
    return [_etl_entry(name, entry) for name, entry in settings.etl_schedules.items()]


def _etl_entry(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A scheduled ETL spec: `crontab` (five fields, UTC) or `interval_s`, and `params`."""
    from domain.schedules import ScheduleError, Timing, check_timing

    params = entry.get("params")
    if not isinstance(params, dict):
        raise ValueError(f"ETL schedule {name!r} needs params (the spec)")
    if "crontab" in entry:
        timing = Timing(cron=str(entry["crontab"]))
    elif "interval_s" in entry:
        timing = Timing(interval_s=float(entry["interval_s"]))
    else:
        raise ValueError(f"ETL schedule {name!r} needs crontab or interval_s")
    try:
        check_timing(timing)
    except ScheduleError as exc:
        raise ValueError(f"ETL schedule {name!r}: {exc}") from exc
    return {
        "name": f"etl-{name}",
        "kind": ETL.name,
        "interval_s": timing.interval_s,
        "cron": timing.cron,
        "params": params,
        "description": f"ETL {name} from TRIOPS_ETL_SCHEDULES",
    }
