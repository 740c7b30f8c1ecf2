"""Evaluating a parsed expression (`domain.dataops.expression_parser`) over a DataFrame,
column-wise with pandas. Null semantics follow SQL: arithmetic and comparisons with a
null give null, `and`/`or`/`not` use three-valued logic; division or modulo by zero
gives null."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from domain.dataops.expression_parser import (
    Binary,
    Call,
    Column,
    Expr,
    ExpressionError,
    InList,
    IsNull,
    Literal,
    Unary,
    unknown_column_message,
)

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "%": operator.mod,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FAILURES = (TypeError, ValueError, ArithmeticError, NotImplementedError)


def evaluate(expr: Expr, frame: pd.DataFrame) -> pd.Series:
    """Evaluate an expression against every row of a frame at once.

    Parameters
    ----------
    expr:
        A parsed expression.
    frame:
        Any table; the expression reads the columns it names. Column labels are
        matched by their string form.

    Returns
    -------
    A Series aligned with `frame.index`. Conditions come back with the nullable
    "boolean" dtype (null where SQL would give unknown); constants are broadcast.

    Raises
    ------
    ExpressionError
        For an unknown column, or values of the wrong type for an operator or
        function (e.g. `'a' < 1`, `lower(price)`).
    """
    columns = {str(c): c for c in frame.columns}
    return _Evaluator(frame, columns).visit(expr)


def evaluate_mask(expr: Expr, frame: pd.DataFrame) -> pd.Series:
    """Evaluate a condition as a filter mask: true rows are kept, false and null dropped.

    Parameters
    ----------
    expr:
        A parsed expression that yields true/false.
    frame:
        Any table; the columns the expression names must exist.

    Returns
    -------
    A plain bool Series aligned with `frame.index`.

    Raises
    ------
    ExpressionError
        If evaluation fails or the result is not true/false.
    """
    result = evaluate(expr, frame)
    return _as_bool(result, expr, "a filter").fillna(False).astype(bool)


def _is_boolish(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return True
    if series.dtype == object:
        values = series.dropna()
        return bool(values.map(lambda v: isinstance(v, bool | np.bool_)).all())
    return bool(series.isna().all())


def _as_bool(series: pd.Series, node: Expr, what: str) -> pd.Series:
    if not _is_boolish(series):
        raise ExpressionError(
            f"{what} needs true/false values, got {series.dtype} at {node.position}",
            node.position,
        )
    return series.astype("boolean")


def _type_name(series: pd.Series) -> str:
    return str(series.dtype)


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, columns: dict[str, Any]) -> None:
        self.frame = frame
        self.columns = columns
        self.index = frame.index

    def broadcast(self, value: Any) -> pd.Series:
        if value is None:
            return pd.Series([None] * len(self.index), index=self.index, dtype=object)
        return pd.Series(value, index=self.index)

    def visit(self, node: Expr) -> pd.Series:
        if isinstance(node, Literal):
            return self.broadcast(node.value)
        if isinstance(node, Column):
            if node.name not in self.columns:
                raise ExpressionError(
                    unknown_column_message(node.name, node.position, self.columns),
                    node.position,
                )
            return self.frame[self.columns[node.name]]
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, InList):
            operand = self.visit(node.operand)
            hit = operand.isin(list(node.values))
            if node.negated:
                hit = ~hit
            return hit.astype("boolean").mask(operand.isna())
        if isinstance(node, IsNull):
            nulls = self.visit(node.operand).isna()
            return (~nulls if node.negated else nulls).astype("boolean")
        return self.call(node)

    def unary(self, node: Unary) -> pd.Series:
        operand = self.visit(node.operand)
        if node.op == "not":
            return ~_as_bool(operand, node.operand, "'not'")
        if not pd.api.types.is_numeric_dtype(operand.dtype) or pd.api.types.is_bool_dtype(
            operand.dtype
        ):
            raise ExpressionError(
                f"'-' needs numbers, got {_type_name(operand)} at {node.position}", node.position
            )
        return -operand

    def binary(self, node: Binary) -> pd.Series:
        if node.op in ("and", "or"):
            left = _as_bool(self.visit(node.left), node.left, f"'{node.op}'")
            right = _as_bool(self.visit(node.right), node.right, f"'{node.op}'")
            return left & right if node.op == "and" else left | right
        left = self.visit(node.left)
        right = self.visit(node.right)
        if node.op in _COMPARE:
            right = self.date_literal(left, node.right, right)
            left = self.date_literal(right, node.left, left)
        valid = left.notna() & right.notna()
        if node.op in ("/", "%"):
            with np.errstate(all="ignore"), contextlib.suppress(*_FAILURES):
                valid &= (right != 0).fillna(False).astype(bool)
        function = _COMPARE.get(node.op) or _ARITHMETIC[node.op]
        try:
            with np.errstate(all="ignore"):
                result = function(left[valid], right[valid])
        except _FAILURES as error:
            raise ExpressionError(
                f"cannot apply '{node.op}' to {_type_name(left)} and {_type_name(right)} "
                f"at {node.position}",
                node.position,
            ) from error
        if node.op in _COMPARE:
            result = result.astype("boolean")
        return result.reindex(self.index)

    def date_literal(self, reference: pd.Series, node: Expr, values: pd.Series) -> pd.Series:
        """Read a string literal compared with a datetime column as a timestamp.

        `ts >= '2024-01-01'` then works; a naive literal takes the column's time zone
        and an aware one is converted to UTC for a naive column.
        """
        if not (
            isinstance(node, Literal)
            and isinstance(node.value, str)
            and isinstance(reference.dtype, pd.DatetimeTZDtype | np.dtype)
            and pd.api.types.is_datetime64_any_dtype(reference.dtype)
        ):
            return values
        try:
            stamp = pd.Timestamp(node.value)
        except _FAILURES as error:
            raise ExpressionError(
                f"cannot read {node.value!r} as a date at {node.position}", node.position
            ) from error
        if stamp is pd.NaT:
            raise ExpressionError(
                f"cannot read {node.value!r} as a date at {node.position}", node.position
            )
        zone = getattr(reference.dtype, "tz", None)
        if zone is not None and stamp.tzinfo is None:
            stamp = stamp.tz_localize(zone)
        elif zone is None and stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return self.broadcast(stamp)

    def call(self, node: Call) -> pd.Series:
        args = [self.visit(arg) for arg in node.args]
        name, first = node.name, args[0]
        if name == "coalesce":
            result = args[0]
            for other in args[1:]:
                result = result.where(result.notna(), other)
            return result
        if name in ("lower", "upper", "strip", "length", "contains", "startswith"):
            return self.text_function(node, first)
        if name in ("abs", "round"):
            if not pd.api.types.is_numeric_dtype(first.dtype) or pd.api.types.is_bool_dtype(
                first.dtype
            ):
                raise ExpressionError(
                    f"{name}() needs numbers, got {_type_name(first)} at {node.position}",
                    node.position,
                )
            if name == "abs":
                return first.abs()
            digits = node.args[1].value if len(node.args) > 1 else 0  # type: ignore[union-attr]
            return first.round(int(digits))  # type: ignore[arg-type]
        # year / month / day
        if not pd.api.types.is_datetime64_any_dtype(first.dtype):
            raise ExpressionError(
                f"{name}() needs datetimes, got {_type_name(first)} at {node.position}; "
                "cast or parse_datetime the column first",
                node.position,
            )
        return getattr(first.dt, name).astype("Int64")

    def text_function(self, node: Call, values: pd.Series) -> pd.Series:
        valid = values.notna()
        present = values[valid]
        if not isinstance(values.dtype, pd.StringDtype) and not bool(
            present.map(lambda v: isinstance(v, str)).all()
        ):
            raise ExpressionError(
                f"{node.name}() needs text, got {_type_name(values)} at {node.position}",
                node.position,
            )
        text = present.astype(object)
        result: pd.Series
        if node.name == "lower":
            result = text.str.lower()
        elif node.name == "upper":
            result = text.str.upper()
        elif node.name == "strip":
            result = text.str.strip()
        elif node.name == "length":
            return text.str.len().astype("Int64").reindex(self.index)
        else:
            pattern = str(node.args[1].value)  # type: ignore[union-attr]
            if node.name == "contains":
                result = text.map(lambda v: pattern in v)
            else:
                result = text.map(lambda v: v.startswith(pattern))
            return result.astype("boolean").reindex(self.index)
        return result.reindex(self.index)
