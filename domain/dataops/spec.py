"""The `transforms` and `checks` parts of a declarative ETL spec (pydantic v2 models).

A transform or check is a JSON object tagged by `type`; unknown fields are refused
everywhere. Filter/derive expressions are parsed (see `domain.dataops.expressions`) and
regex patterns compiled when the model is built, so a bad spec fails validation before
anything runs; `validate_against_columns` then checks every column name against the
columns of the source, following renames, selects, drops and derives in order.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from domain.dataops.expression_parser import (
    ExpressionError,
    column_refs,
    parse,
    unknown_column_message,
)
from domain.dataops.refs import DatasetRef, DatasetRefField
from domain.user_regex import check_user_regex

ROW_ID = "_row"
"""The column carrying each row's input row number through the transforms."""
RESERVED = frozenset({ROW_ID, "_rule", "_reason"})
"""Column names the ETL keeps for itself (the row id and the quarantine columns)."""

ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Scalar = str | int | float | bool | None
CastType = Literal["int", "float", "str", "bool", "datetime"]
OnError = Literal["quarantine", "null", "fail"]
Severity = Literal["error", "warn"]
ColumnList = Annotated[list[ColumnName], Field(min_length=1, max_length=1000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(columns: list[str]) -> list[str]:
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise ValueError(f"columns listed more than once: {repeated}")
    return columns


def _expression(text: str) -> str:
    try:
        parse(text)
    except ExpressionError as error:
        raise ValueError(f"expression {text[:200]!r} does not parse: {error}") from error
    return text


DistinctColumns = Annotated[ColumnList, AfterValidator(_unique)]
ExpressionText = Annotated[
    str, StringConstraints(min_length=1, max_length=4000), AfterValidator(_expression)
]


# ------------------------------------------------------------------------ transforms


class Rename(_Model):
    """Rename columns: `mapping` is {old name: new name}."""

    type: Literal["rename"]
    mapping: Annotated[dict[ColumnName, ColumnName], Field(min_length=1)]

    @field_validator("mapping")
    @classmethod
    def _targets_are_distinct(cls, mapping: dict[str, str]) -> dict[str, str]:
        _unique(list(mapping.values()))
        return mapping


class Select(_Model):
    """Keep only `columns`, in that order (the row id is always kept)."""

    type: Literal["select"]
    columns: DistinctColumns


class Drop(_Model):
    """Remove `columns`."""

    type: Literal["drop"]
    columns: DistinctColumns


class Cast(_Model):
    """Convert columns to a type: `columns` is {column: int|float|str|bool|datetime}.

    `on_error` says what happens to a value that does not convert: `quarantine` moves
    the row to quarantine, `null` replaces the value by null, `fail` stops the job.
    Blank strings count as null, not as errors. Datetimes are read as ISO 8601, in UTC.
    """

    type: Literal["cast"]
    columns: Annotated[dict[ColumnName, CastType], Field(min_length=1)]
    on_error: OnError = "quarantine"


class ParseDatetime(_Model):
    """Read `column` as datetimes (UTC) with a strftime `format`, or ISO 8601 if omitted."""

    type: Literal["parse_datetime"]
    column: ColumnName
    format: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    on_error: OnError = "quarantine"


class TextCase(_Model):
    """`strip`, `lower` or `upper` the text values of `columns` (other values untouched)."""

    type: Literal["strip", "lower", "upper"]
    columns: DistinctColumns


class Replace(_Model):
    """Replace values of `column`: `mapping` is {value as text: new value}."""

    type: Literal["replace"]
    column: ColumnName
    mapping: Annotated[dict[str, Scalar], Field(min_length=1)]


class FillNull(_Model):
    """Fill the nulls of each column with a constant: `values` is {column: value}."""

    type: Literal["fill_null"]
    values: Annotated[dict[ColumnName, Scalar], Field(min_length=1)]


class DropNull(_Model):
    """Drop the rows with a null in any of `columns` (any column if omitted)."""

    type: Literal["drop_null"]
    columns: ColumnList | None = None


class Deduplicate(_Model):
    """Drop repeated rows, comparing `keys` (all columns if omitted); keep first or last."""

    type: Literal["deduplicate"]
    keys: ColumnList | None = None
    keep: Literal["first", "last"] = "first"


class Filter(_Model):
    """Keep the rows for which the expression `expr` is true (null counts as false)."""

    type: Literal["filter"]
    expr: ExpressionText


class Derive(_Model):
    """Set `column` (new or existing) to the value of the expression `expr`."""

    type: Literal["derive"]
    column: ColumnName
    expr: ExpressionText


class Join(_Model):
    """Bring `columns` from a dataset version, matching on the `on` columns.

    Many-to-one only: the dataset must hold each key once (else the rows would multiply
    and no longer be accounted for). `how: inner` drops unmatched rows (counted as
    filtered); `left` keeps them with nulls.
    """

    type: Literal["join"]
    dataset: DatasetRefField
    on: ColumnList
    columns: ColumnList
    how: Literal["left", "inner"] = "left"


class Metric(_Model):
    """One aggregate: `fn` over `column` (`count` without a column counts rows)."""

    fn: Literal["sum", "mean", "min", "max", "count", "nunique", "first", "last"]
    column: ColumnName | None = None

    @model_validator(mode="after")
    def _column(self) -> Metric:
        if self.column is None and self.fn != "count":
            raise ValueError(f"{self.fn} needs a column")
        return self


class Aggregate(_Model):
    """Group rows by `by` and compute `metrics` ({output column: metric}).

    The rows folded into groups are counted as `aggregated`; each group keeps the row id
    of its first input row.
    """

    type: Literal["aggregate"]
    by: ColumnList
    metrics: Annotated[dict[ColumnName, Metric], Field(min_length=1, max_length=200)]


Transform = Annotated[
    Rename
    | Select
    | Drop
    | Cast
    | ParseDatetime
    | TextCase
    | Replace
    | FillNull
    | DropNull
    | Deduplicate
    | Filter
    | Derive
    | Join
    | Aggregate,
    Field(discriminator="type"),
]
"""One step of the pipeline, tagged by `type`."""


# ---------------------------------------------------------------------------- checks


class _Check(_Model):
    severity: Severity = "error"


class NotNull(_Check):
    """Every value of `columns` is present."""

    type: Literal["not_null"]
    columns: ColumnList


class Unique(_Check):
    """No two rows share the same values in `columns` (taken together)."""

    type: Literal["unique"]
    columns: ColumnList


class Range(_Check):
    """Every present value of `column` is a number within [`min`, `max`]."""

    type: Literal["range"]
    column: ColumnName
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"range min {self.min} is above max {self.max}")
        return self


class Regex(_Check):
    """Every present value of `column` matches `pattern` in full (`fullmatch`, on RE2)."""

    type: Literal["regex"]
    column: ColumnName
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=1000)]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return check_user_regex(pattern, f"pattern {pattern!r}")


class Allowed(_Check):
    """Every present value of `column` is one of `values`."""

    type: Literal["allowed"]
    column: ColumnName
    values: Annotated[list[str | int | float | bool], Field(min_length=1)]


class RowCount(_Check):
    """The table has between `min` and `max` rows."""

    type: Literal["row_count"]
    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"row_count min {self.min} is above max {self.max}")
        return self


class Freshness(_Check):
    """The newest datetime in `column` is at most `max_age_s` seconds before `now`."""

    type: Literal["freshness"]
    column: ColumnName
    max_age_s: Annotated[float, Field(gt=0)]


class Referential(_Check):
    """Every non-null value of `column` exists in `dataset_column` of a dataset version."""

    type: Literal["referential"]
    column: ColumnName
    dataset: DatasetRefField
    dataset_column: ColumnName | None = None


Check = Annotated[
    NotNull | Unique | Range | Regex | Allowed | RowCount | Freshness | Referential,
    Field(discriminator="type"),
]
"""One data-quality check, tagged by `type`."""


class EtlSteps(_Model):
    """The `transforms` and `checks` of an ETL spec, run in that order."""

    transforms: Annotated[list[Transform], Field(max_length=200)] = []
    checks: Annotated[list[Check], Field(max_length=200)] = []


# ---------------------------------------------------------------- column tracking


def transform_label(index: int, transform: BaseModel) -> str:
    """The name a transform goes by in errors, counts and quarantine: `transforms[i].type`.

    Parameters
    ----------
    index:
        Position of the transform in the list.
    transform:
        The transform.

    Returns
    -------
    E.g. "transforms[2].cast".
    """
    return f"transforms[{index}].{getattr(transform, 'type', '?')}"


def _missing(where: str, names: list[str], columns: list[str]) -> list[str]:
    problems = []
    for name in names:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{where}: unknown column '{name}'; columns: {columns}{hint}")
    return problems


def _transform_columns(transform: Any) -> list[str]:
    """The existing columns a transform reads or changes."""
    if isinstance(transform, Rename):
        return list(transform.mapping)
    if isinstance(transform, Cast):
        return list(transform.columns)
    if isinstance(transform, FillNull):
        return list(transform.values)
    if isinstance(transform, Deduplicate):
        return list(transform.keys or [])
    if isinstance(transform, Join):
        return list(transform.on)
    if isinstance(transform, Aggregate):
        return [*transform.by, *(m.column for m in transform.metrics.values() if m.column)]
    if isinstance(transform, ParseDatetime | Replace):
        return [transform.column]
    if isinstance(transform, Select | Drop | TextCase | DropNull):
        return list(transform.columns or [])
    return []


def validate_against_columns(
    transforms: list[Any], checks: list[Any], columns: list[str]
) -> list[str]:
    """Every column problem of a pipeline, for a 422 listing all of them at once.

    Parameters
    ----------
    transforms:
        Transform models (see `Transform`), applied in order.
    checks:
        Check models (see `Check`), run on the columns left after the transforms.
    columns:
        The columns of the source table.

    Returns
    -------
    One message per problem ("transforms[2].cast: unknown column 'prcie'; columns:
    [...]"), empty when the pipeline fits the source. Problems: a reserved column name
    (`_row`, `_rule`, `_reason`) in the source or produced by a rename/derive, a column
    that does not exist at that step, a rename onto a column that already exists, and
    an unknown column in a filter/derive expression (with its position).
    """
    problems: list[str] = []
    reserved_in_source = sorted(RESERVED.intersection(columns))
    if reserved_in_source:
        problems.append(f"source: column names {reserved_in_source} are reserved")
    current = [c for c in dict.fromkeys(columns) if c not in RESERVED]
    for index, transform in enumerate(transforms):
        where = transform_label(index, transform)
        problems += _missing(where, _transform_columns(transform), current)
        if isinstance(transform, Rename):
            renamed = [transform.mapping.get(c, c) for c in current]
            for new in transform.mapping.values():
                if new in RESERVED:
                    problems.append(f"{where}: column name '{new}' is reserved")
                elif renamed.count(new) > 1:
                    problems.append(f"{where}: renaming onto existing column '{new}'")
            current = list(dict.fromkeys(renamed))
        elif isinstance(transform, Select):
            current = [c for c in transform.columns if c in current]
        elif isinstance(transform, Drop):
            current = [c for c in current if c not in transform.columns]
        elif isinstance(transform, Aggregate):
            current = [*transform.by, *(c for c in transform.metrics if c not in transform.by)]
        elif isinstance(transform, Join):
            clashes = sorted(set(transform.columns) & set(current))
            if clashes:
                problems.append(f"{where}: columns {clashes} already exist")
            current += [c for c in transform.columns if c not in current]
        elif isinstance(transform, Filter | Derive):
            for ref in column_refs(parse(transform.expr)):
                if ref.name not in current and ref.name != ROW_ID:
                    detail = unknown_column_message(ref.name, ref.position, current)
                    problems.append(f"{where}: expr {transform.expr!r}: {detail}")
            if isinstance(transform, Derive):
                if transform.column in RESERVED:
                    problems.append(f"{where}: column name '{transform.column}' is reserved")
                elif transform.column not in current:
                    current.append(transform.column)
    for index, check in enumerate(checks):
        where = f"checks[{index}].{check.type}"
        names = getattr(check, "columns", None) or (
            [check.column] if hasattr(check, "column") else []
        )
        problems += _missing(where, list(names), current)
    return problems


def dataset_refs(transforms: list[Any], checks: list[Any]) -> list[DatasetRef]:
    """The dataset versions a pipeline reads besides its source (joins, referential checks)."""
    refs = [t.dataset for t in transforms if isinstance(t, Join)]
    refs += [c.dataset for c in checks if isinstance(c, Referential)]
    return list(dict.fromkeys(refs))
