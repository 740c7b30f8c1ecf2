"""Applying the transforms of an ETL spec to a DataFrame, losing no row silently.

Every input row ends in exactly one place: the output frame, the quarantine frame
(a value that does not cast or parse with `on_error: quarantine`), the `filtered`
count (`filter`, `drop_null`) or the `deduplicated` count (`deduplicate`). Each row
carries its input row number in the `_row` column so it can be traced.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from domain.dataops.expression_eval import evaluate, evaluate_mask
from domain.dataops.expression_parser import ExpressionError, parse
from domain.dataops.spec import (
    RESERVED,
    ROW_ID,
    Aggregate,
    Cast,
    Deduplicate,
    Derive,
    Drop,
    DropNull,
    FillNull,
    Filter,
    Join,
    ParseDatetime,
    Rename,
    Replace,
    Select,
    TextCase,
    transform_label,
)
from domain.errors import DomainError

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


class TransformError(DomainError):
    """A transform that cannot run (unknown column, wrong type, `on_error: fail`).

    Attributes
    ----------
    rule:
        The transform's label, e.g. "transforms[2].cast".
    """

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule


@dataclass
class TransformResult:
    """What `apply_transforms` produced.

    Attributes
    ----------
    frame:
        The transformed rows, with a fresh RangeIndex and the `_row` column (input row
        number, int64).
    quarantined:
        The input rows as they came in, plus `_row`, `_rule` (the transform's label)
        and `_reason` (which column and value failed, and why).
    counts:
        {"input", "output", "filtered", "deduplicated", "quarantined", "nulled",
        "by_rule": {label: rows removed (or values nulled) by that transform}}; always
        input == output + filtered + deduplicated + quarantined + aggregated.
    """

    frame: pd.DataFrame
    quarantined: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)


def apply_transforms(
    frame: pd.DataFrame,
    transforms: list[Any],
    lookups: Mapping[str, pd.DataFrame] | None = None,
    *,
    row_offset: int = 0,
    seen: dict[str, KeyHashes] | None = None,
) -> TransformResult:
    """Run the transforms over a table in order.

    Parameters
    ----------
    frame:
        The source table; any columns except the reserved `_row`, `_rule`, `_reason`.
        Its index is discarded (rows are identified by position).
    transforms:
        Transform models from `domain.dataops.spec` (`Transform`).
    lookups:
        Dataset versions a `join` reads, by reference (`name@version`).
    row_offset:
        The `_row` id of the first row: a chunk of a larger input starts where the
        previous chunk ended.
    seen:
        State kept across the chunks of one input: for each `deduplicate`, the hashes of
        the keys already passed, so a repeat in a later chunk is dropped too (only
        `keep: first` can be decided chunk by chunk).

    Returns
    -------
    A `TransformResult`.

    Raises
    ------
    TransformError
        For a reserved or unknown column, an expression that fails on the data, a
        rename onto an existing column, or a failed cast/parse with `on_error: fail`.
    """
    reserved = sorted(RESERVED.intersection(str(c) for c in frame.columns))
    if reserved:
        raise TransformError("source", f"column names {reserved} are reserved")
    original = frame.reset_index(drop=True)
    original.index = pd.RangeIndex(row_offset, row_offset + len(original))
    original.insert(len(original.columns), ROW_ID, original.index.to_numpy(dtype="int64"))
    state = _State(original, lookups or {}, seen)
    for index, transform in enumerate(transforms):
        label = transform_label(index, transform)
        try:
            state.apply(label, transform)
        except ExpressionError as error:
            raise TransformError(label, str(error)) from error
    return state.result()


class KeyHashes:
    """The 64-bit hashes of the keys seen so far in a chunked input: 8 bytes per key,
    not the rows. Two different keys sharing a hash (odds about n²/2⁶⁵, ~3·10⁻⁸ for a
    million keys) would count as a repeat."""

    def __init__(self) -> None:
        self.hashes = np.empty(0, dtype="uint64")

    @staticmethod
    def of(frame: pd.DataFrame) -> np.ndarray:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype="uint64")

    def seen_before(self, frame: pd.DataFrame) -> pd.Series:
        """Per row: is its key among those already added?"""
        hashes = self.of(frame)
        if not len(self.hashes):
            return pd.Series(False, index=frame.index)
        at = np.searchsorted(self.hashes, hashes).clip(max=len(self.hashes) - 1)
        return pd.Series(self.hashes[at] == hashes, index=frame.index)

    def add(self, frame: pd.DataFrame) -> None:
        self.hashes = np.union1d(self.hashes, self.of(frame))

    def __len__(self) -> int:
        return len(self.hashes)


class _State:
    def __init__(
        self,
        original: pd.DataFrame,
        lookups: Mapping[str, pd.DataFrame],
        seen: dict[str, KeyHashes] | None,
    ) -> None:
        self.original = original
        self.lookups = lookups
        self.seen = seen
        self.frame = original.copy()
        self.quarantine_parts: list[pd.DataFrame] = []
        self.counts: dict[str, Any] = {
            "input": len(original),
            "output": 0,
            "filtered": 0,
            "deduplicated": 0,
            "quarantined": 0,
            "aggregated": 0,
            "nulled": 0,
            "by_rule": {},
        }

    def result(self) -> TransformResult:
        frame = self.frame.reset_index(drop=True)
        self.counts["output"] = len(frame)
        columns = [*self.original.columns, "_rule", "_reason"]
        if self.quarantine_parts:
            quarantined = pd.concat(self.quarantine_parts, ignore_index=True)
        else:
            quarantined = self.original.iloc[0:0].assign(_rule="", _reason="")
            quarantined = quarantined.astype({"_rule": object, "_reason": object})
        return TransformResult(frame, quarantined[columns], self.counts)

    def need(self, label: str, names: list[str]) -> None:
        missing = [n for n in names if n not in self.frame.columns]
        if missing:
            present = [str(c) for c in self.frame.columns]
            raise TransformError(label, f"unknown columns {missing}; columns: {present}")
        if ROW_ID in names:
            raise TransformError(label, f"'{ROW_ID}' is the row id and cannot be changed")

    def remove(self, label: str, keep: pd.Series, kind: str) -> None:
        removed = int((~keep).sum())
        self.frame = self.frame[keep.to_numpy()]
        self.counts[kind] += removed
        self.counts["by_rule"][label] = self.counts["by_rule"].get(label, 0) + removed

    def aggregate(self, label: str, transform: Aggregate) -> None:
        by = list(transform.by)
        used = [m.column for m in transform.metrics.values() if m.column]
        self.need(label, [*by, *used])
        groups = self.frame.groupby(by, dropna=False, sort=True)
        out = groups[ROW_ID].min().rename(ROW_ID).to_frame()
        for name, metric in transform.metrics.items():
            if metric.column is None:
                out[name] = groups.size()
            else:
                out[name] = groups[metric.column].agg(metric.fn)
        out = out.reset_index()
        folded = len(self.frame) - len(out)
        self.counts["aggregated"] += folded
        self.counts["by_rule"][label] = self.counts["by_rule"].get(label, 0) + folded
        self.frame = out[[*by, *transform.metrics, ROW_ID]]

    def join(self, label: str, transform: Join) -> None:
        keys = list(transform.on)
        self.need(label, keys)
        right = self.lookups.get(transform.dataset)
        if right is None:
            raise TransformError(label, f"dataset {transform.dataset} was not provided")
        missing = [c for c in [*keys, *transform.columns] if c not in right.columns]
        if missing:
            raise TransformError(label, f"dataset {transform.dataset} has no columns {missing}")
        clashes = sorted(set(transform.columns) & set(self.frame.columns))
        if clashes:
            raise TransformError(label, f"columns {clashes} already exist")
        right = right[[*keys, *transform.columns]]
        repeated = int(right.duplicated(subset=keys).sum())
        if repeated:
            raise TransformError(
                label, f"dataset {transform.dataset} repeats {repeated} keys of {keys}"
            )
        matched = self.frame[keys].merge(right[keys], on=keys, how="left", indicator=True)
        if transform.how == "inner":
            self.remove(label, pd.Series((matched["_merge"] == "both").to_numpy()), "filtered")
        index = self.frame.index
        joined = self.frame.merge(right, on=keys, how="left")
        joined.index = index
        self.frame = joined

    def quarantine(self, label: str, reasons: pd.Series) -> None:
        """Move the rows with a reason (aligned on the frame's index) to quarantine."""
        bad = reasons.notna()
        if not bad.any():
            return
        rows = self.frame.loc[bad, ROW_ID].to_numpy()
        part = self.original.loc[rows].copy()
        part["_rule"] = label
        part["_reason"] = reasons[bad].to_numpy()
        self.quarantine_parts.append(part)
        self.remove(label, ~bad, "quarantined")

    def apply(self, label: str, transform: Any) -> None:
        if isinstance(transform, Rename):
            self.need(label, list(transform.mapping))
            renamed = [transform.mapping.get(c, c) for c in self.frame.columns]
            clashes = sorted(
                {c for c in renamed if renamed.count(c) > 1}
                | RESERVED.intersection(transform.mapping.values())
            )
            if clashes:
                raise TransformError(label, f"renaming onto existing or reserved {clashes}")
            self.frame = self.frame.rename(columns=transform.mapping)
        elif isinstance(transform, Select):
            self.need(label, [c for c in transform.columns if c != ROW_ID])
            keep = [c for c in transform.columns if c != ROW_ID]
            self.frame = self.frame[[*keep, ROW_ID]]
        elif isinstance(transform, Drop):
            self.need(label, list(transform.columns))
            self.frame = self.frame.drop(columns=list(transform.columns))
        elif isinstance(transform, Cast):
            self.need(label, list(transform.columns))
            self.convert(label, transform.columns, transform.on_error, None)
        elif isinstance(transform, ParseDatetime):
            self.need(label, [transform.column])
            self.convert(
                label, {transform.column: "datetime"}, transform.on_error, transform.format
            )
        elif isinstance(transform, TextCase):
            self.need(label, list(transform.columns))
            for name in transform.columns:
                self.frame[name] = _text_case(label, name, self.frame[name], transform.type)
        elif isinstance(transform, Replace):
            self.need(label, [transform.column])
            self.frame[transform.column] = _replace(self.frame[transform.column], transform)
        elif isinstance(transform, FillNull):
            self.need(label, list(transform.values))
            for name, value in transform.values.items():
                self.frame[name] = _fill(self.frame[name], value)
        elif isinstance(transform, DropNull):
            names = list(transform.columns or [c for c in self.frame.columns if c != ROW_ID])
            self.need(label, names)
            self.remove(label, self.frame[names].notna().all(axis=1), "filtered")
        elif isinstance(transform, Deduplicate):
            keys = list(transform.keys or [c for c in self.frame.columns if c != ROW_ID])
            self.need(label, keys)
            if keys:
                repeated = self.frame.duplicated(subset=keys, keep=transform.keep)
                if self.seen is not None:
                    if transform.keep != "first":
                        raise TransformError(label, "keep: last needs the whole input at once")
                    known = self.seen.setdefault(label, KeyHashes())
                    repeated |= known.seen_before(self.frame[keys])
                    known.add(self.frame.loc[~repeated, keys])
                self.remove(label, ~repeated, "deduplicated")
        elif isinstance(transform, Filter):
            self.remove(label, evaluate_mask(parse(transform.expr), self.frame), "filtered")
        elif isinstance(transform, Join):
            self.join(label, transform)
        elif isinstance(transform, Aggregate):
            self.aggregate(label, transform)
        elif isinstance(transform, Derive):
            if transform.column in RESERVED:
                raise TransformError(label, f"column name '{transform.column}' is reserved")
            self.frame[transform.column] = evaluate(parse(transform.expr), self.frame)
        else:
            raise TransformError(label, f"unsupported transform {type(transform).__name__}")

    def convert(
        self, label: str, columns: Mapping[str, str], on_error: str, fmt: str | None
    ) -> None:
        converted: dict[str, pd.Series] = {}
        reasons = pd.Series(None, index=self.frame.index, dtype=object)
        for name, kind in columns.items():
            values, failed = _cast(self.frame[name], kind, fmt)
            if failed.any():
                described = self.frame[name][failed].map(
                    lambda v, n=name, k=kind: (
                        f"{n}: cannot read {v!r} as {k}" + (f" with format {fmt!r}" if fmt else "")
                    )
                )
                if on_error == "fail":
                    first = described.head(3).tolist()
                    rows = self.frame.loc[failed, ROW_ID].head(3).tolist()
                    raise TransformError(
                        label, f"{int(failed.sum())} value(s) failed, e.g. rows {rows}: {first}"
                    )
                if on_error == "null":
                    self.counts["nulled"] += int(failed.sum())
                    rule = self.counts["by_rule"]
                    rule[label] = rule.get(label, 0) + int(failed.sum())
                else:
                    joined = reasons[failed].map(lambda r: r if isinstance(r, str) else "")
                    reasons[failed] = (joined + "; " + described).str.lstrip("; ")
            converted[name] = values
        for name, values in converted.items():
            self.frame[name] = values
        self.quarantine(label, reasons)


def _blank_to_null(series: pd.Series) -> pd.Series:
    if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
        blank = series.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
        if blank.any():
            return series.astype(object).where(~blank, None)
    return series


def _cast(series: pd.Series, kind: str, fmt: str | None) -> tuple[pd.Series, pd.Series]:
    """Convert a column; returns (converted values, mask of values that failed)."""
    source = _blank_to_null(series)
    present = source.notna()
    values: pd.Series
    if kind == "str":
        return source.astype("string"), pd.Series(False, index=series.index)
    if kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(source.dtype):
            values = pd.to_datetime(source, utc=True)
        else:
            text = source.astype(object).where(~present, source.astype(str))
            values = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce", utc=True)
    elif kind == "bool":
        values = source.map(_to_bool).astype("boolean")
    else:
        numbers = (
            source.astype("float64")
            if pd.api.types.is_bool_dtype(source.dtype)
            else pd.to_numeric(source, errors="coerce")
        )
        numbers = numbers.astype("float64")
        if kind == "int":
            whole = numbers.notna() & np.isfinite(numbers) & (numbers == np.round(numbers))
            numbers = numbers.where(whole)
            values = numbers.astype("Int64")
        else:
            values = numbers
    return values, present & values.isna()


def _to_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _text_case(label: str, name: str, series: pd.Series, kind: str) -> pd.Series:
    if isinstance(series.dtype, pd.StringDtype):
        return getattr(series.str, kind)()
    if series.dtype != object:
        if series.isna().all():
            return series
        raise TransformError(label, f"column '{name}' is {series.dtype}, not text")
    return series.map(lambda v: getattr(v, kind)() if isinstance(v, str) else v)


def _replace(series: pd.Series, transform: Replace) -> pd.Series:
    text = series.map(lambda v: None if _is_null(v) else str(v))
    hit = text.isin(list(transform.mapping)) & series.notna()
    if not hit.any():
        return series
    result = series.astype(object).copy()
    result[hit] = text[hit].map(transform.mapping)
    return result.infer_objects()


def _is_null(value: Any) -> bool:
    return bool(pd.isna(value)) if np.ndim(value) == 0 else False


def _fill(series: pd.Series, value: Any) -> pd.Series:
    if value is None or not series.isna().any():
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return series.fillna(value)
        except (Warning, TypeError, ValueError):
            pass
    return series.astype(object).where(series.notna(), value)
