"""A small, safe expression language over the columns of a table: the parser.

Used by the ETL `filter` and `derive` transforms. The text is tokenised and parsed by
hand into an AST of the frozen dataclasses below (standard library only, so validating
a spec at submit never imports pandas); `domain.dataops.expression_eval` evaluates the
tree column-wise with pandas. No Python `eval`/`exec`/`compile`, no
`DataFrame.eval/query` and no attribute access are involved, so the only things an
expression can reach are the columns of the frame and the whitelisted functions in
`FUNCTIONS`.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := additive [ ("=="|"!="|"<"|"<="|">"|">=") additive
                           | ["not"] "in" "(" literal ("," literal)* ")"
                           | "is" ["not"] "null" ]
    additive   := term (("+"|"-") term)*
    term       := unary (("*"|"/"|"%") unary)*
    unary      := "-" unary | primary
    primary    := number | string | "true" | "false" | "null"
                | identifier | `back-quoted name` | function "(" [expr ("," expr)*] ")"
                | "(" expr ")"

Keywords are case-insensitive; a column whose name is a keyword, or contains spaces,
is written in back-quotes. Null semantics follow SQL: arithmetic and comparisons with
a null give null, `and`/`or`/`not` use three-valued logic, and a filter keeps only the
rows whose condition is true (null counts as false). Division or modulo by zero
gives null.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.errors import DomainError

MAX_LENGTH = 4000
"""Longest expression text accepted, in characters."""
MAX_DEPTH = 64
"""Deepest nesting of the expression tree (parentheses, operators, calls)."""

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_OPERATOR_CHARS = "=!<>&|"
_HINTS = {
    "=": "; use '==' to compare",
    "<>": "; use '!='",
    "&&": "; use 'and'",
    "&": "; use 'and'",
    "||": "; use 'or'",
    "|": "; use 'or'",
    "!": "; use 'not'",
}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


class ExpressionError(DomainError):
    """An expression that cannot be parsed, validated or evaluated.

    Attributes
    ----------
    position:
        Character offset in the expression text the problem points at.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# ---------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: int, float, str, bool or None (null)."""

    value: int | float | str | bool | None
    position: int


@dataclass(frozen=True, slots=True)
class Column:
    """A reference to the column called `name`."""

    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    """`-operand` (op `"-"`) or `not operand` (op `"not"`)."""

    op: str
    operand: Expr
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (+ - * / %), comparison (== != < <= > >=) or logic (and, or)."""

    op: str
    left: Expr
    right: Expr
    position: int


@dataclass(frozen=True, slots=True)
class InList:
    """`operand [not] in (v1, v2, ...)`; the values are non-null literals."""

    operand: Expr
    values: tuple[int | float | str | bool, ...]
    negated: bool
    position: int


@dataclass(frozen=True, slots=True)
class IsNull:
    """`operand is [not] null`."""

    operand: Expr
    negated: bool
    position: int


@dataclass(frozen=True, slots=True)
class Call:
    """A call of one of the whitelisted `FUNCTIONS`."""

    name: str
    args: tuple[Expr, ...]
    position: int


Expr = Literal | Column | Unary | Binary | InList | IsNull | Call


# ---------------------------------------------------------------------- functions


@dataclass(frozen=True, slots=True)
class _Function:
    min_args: int
    max_args: int | None
    literal_args: dict[int, type]  # argument index -> required literal type


FUNCTIONS: dict[str, _Function] = {
    "lower": _Function(1, 1, {}),
    "upper": _Function(1, 1, {}),
    "strip": _Function(1, 1, {}),
    "length": _Function(1, 1, {}),
    "abs": _Function(1, 1, {}),
    "round": _Function(1, 2, {1: int}),
    "coalesce": _Function(1, None, {}),
    "year": _Function(1, 1, {}),
    "month": _Function(1, 1, {}),
    "day": _Function(1, 1, {}),
    "contains": _Function(2, 2, {1: str}),
    "startswith": _Function(2, 2, {1: str}),
}
"""The only functions an expression may call, with their arity."""


# ---------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num, str, ident, quoted, op, kw, eof
    text: str
    value: Any
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit():
            tokens.append(_number(text, i))
            i += len(tokens[-1].text)
        elif ch in "'\"":
            token = _string(text, i)
            tokens.append(token)
            i += len(token.text)
        elif ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise ExpressionError(f"unterminated back-quoted name at {i}", i)
            name = text[i + 1 : end]
            if not name:
                raise ExpressionError(f"empty back-quoted name at {i}", i)
            tokens.append(_Token("quoted", text[i : end + 1], name, i))
            i = end + 1
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            kind = "kw" if word.lower() in _KEYWORDS else "ident"
            tokens.append(_Token(kind, word, word.lower() if kind == "kw" else word, i))
            i = j
        elif ch in _OPERATOR_CHARS:
            j = i
            while j < n and text[j] in _OPERATOR_CHARS:
                j += 1
            op = text[i:j]
            if op not in _COMPARISONS:
                raise ExpressionError(f"unexpected token '{op}' at {i}{_HINTS.get(op, '')}", i)
            tokens.append(_Token("op", op, op, i))
            i = j
        elif ch in "+-*/%(),":
            tokens.append(_Token("op", ch, ch, i))
            i += 1
        else:
            raise ExpressionError(f"unexpected character {ch!r} at {i}", i)
    tokens.append(_Token("eof", "end of expression", None, n))
    return tokens


def _number(text: str, start: int) -> _Token:
    i, n = start, len(text)
    while i < n and text[i].isdigit():
        i += 1
    is_float = False
    if i + 1 < n and text[i] == "." and text[i + 1].isdigit():
        is_float = True
        i += 1
        while i < n and text[i].isdigit():
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            is_float = True
            i = j
            while i < n and text[i].isdigit():
                i += 1
    if i < n and (text[i].isalpha() or text[i] == "_" or text[i] == "."):
        raise ExpressionError(f"malformed number at {start}", start)
    literal = text[start:i]
    return _Token("num", literal, float(literal) if is_float else int(literal), start)


def _string(text: str, start: int) -> _Token:
    quote = text[start]
    out: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(_ESCAPES.get(text[i + 1], "\\" + text[i + 1]))
            i += 2
        elif ch == quote:
            return _Token("str", text[start : i + 1], "".join(out), start)
        else:
            out.append(ch)
            i += 1
    raise ExpressionError(f"unterminated string at {start}", start)


# ------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def at(self, kind: str, value: Any = None) -> bool:
        token = self.current
        return token.kind == kind and (value is None or token.value == value)

    def expect(self, kind: str, value: Any, what: str) -> _Token:
        if not self.at(kind, value):
            self.fail(f"expected {what}")
        return self.advance()

    def fail(self, hint: str | None = None) -> None:
        token = self.current
        shown = token.text if token.kind != "eof" else "end of expression"
        message = (
            f"unexpected end of expression at {token.position}"
            if token.kind == "eof"
            else f"unexpected token '{shown}' at {token.position}"
        )
        raise ExpressionError(message + (f"; {hint}" if hint else ""), token.position)

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            position = self.current.position
            raise ExpressionError(
                f"expression nested too deeply at {position} (limit {MAX_DEPTH})", position
            )

    def expression(self) -> Expr:
        self.nest()
        try:
            return self.or_()
        finally:
            self.depth -= 1

    def or_(self) -> Expr:
        left = self.and_()
        while self.at("kw", "or"):
            token = self.advance()
            left = Binary("or", left, self.and_(), token.position)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.at("kw", "and"):
            token = self.advance()
            left = Binary("and", left, self.not_(), token.position)
        return left

    def not_(self) -> Expr:
        if self.at("kw", "not"):
            token = self.advance()
            self.nest()
            try:
                return Unary("not", self.not_(), token.position)
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        token = self.current
        if token.kind == "op" and token.value in _COMPARISONS:
            self.advance()
            return Binary(token.value, left, self.additive(), token.position)
        if self.at("kw", "is"):
            self.advance()
            negated = self.at("kw", "not")
            if negated:
                self.advance()
            self.expect("kw", "null", "'null' after 'is'")
            return IsNull(left, negated, token.position)
        if self.at("kw", "in") or self.at("kw", "not"):
            negated = self.at("kw", "not")
            if negated:
                self.advance()
                if not self.at("kw", "in"):
                    self.fail("expected 'in' after 'not'")
            self.advance()
            return InList(left, self.literal_list(), negated, token.position)
        return left

    def literal_list(self) -> tuple[int | float | str | bool, ...]:
        self.expect("op", "(", "'(' after 'in'")
        values: list[int | float | str | bool] = []
        while True:
            sign = 1
            if self.at("op", "-"):
                self.advance()
                sign = -1
            token = self.current
            if token.kind == "kw" and token.value == "null":
                self.fail("null never matches 'in'; use 'is null'")
            if sign == -1 and token.kind != "num":
                self.fail("expected a number after '-'")
            if token.kind in ("num", "str"):
                values.append(sign * token.value if token.kind == "num" else token.value)
            elif token.kind == "kw" and token.value in ("true", "false"):
                values.append(token.value == "true")
            else:
                self.fail("the values of 'in' must be literals")
            self.advance()
            if self.at("op", ")"):
                self.advance()
                return tuple(values)
            self.expect("op", ",", "',' or ')'")

    def additive(self) -> Expr:
        left = self.term()
        while self.current.kind == "op" and self.current.value in ("+", "-"):
            token = self.advance()
            left = Binary(token.value, left, self.term(), token.position)
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.current.kind == "op" and self.current.value in ("*", "/", "%"):
            token = self.advance()
            left = Binary(token.value, left, self.unary(), token.position)
        return left

    def unary(self) -> Expr:
        if self.at("op", "-"):
            token = self.advance()
            self.nest()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if (
                isinstance(operand, Literal)
                and isinstance(operand.value, int | float)
                and not isinstance(operand.value, bool)
            ):
                return Literal(-operand.value, token.position)
            return Unary("-", operand, token.position)
        return self.primary()

    def primary(self) -> Expr:
        token = self.current
        if token.kind in ("num", "str"):
            self.advance()
            return Literal(token.value, token.position)
        if token.kind == "kw" and token.value in ("true", "false", "null"):
            self.advance()
            return Literal(
                {"true": True, "false": False, "null": None}[token.value], token.position
            )
        if token.kind == "quoted":
            self.advance()
            return Column(token.value, token.position)
        if token.kind == "ident":
            self.advance()
            if self.at("op", "("):
                return self.call(token)
            return Column(token.value, token.position)
        if self.at("op", "("):
            self.advance()
            inner = self.expression()
            self.expect("op", ")", "')'")
            return inner
        self.fail()
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, name_token: _Token) -> Call:
        name = name_token.value.lower()
        position = name_token.position
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise ExpressionError(
                f"unknown function '{name_token.value}' at {position}; known: {sorted(FUNCTIONS)}",
                position,
            )
        self.advance()  # "("
        args: list[Expr] = []
        if not self.at("op", ")"):
            args.append(self.expression())
            while self.at("op", ","):
                self.advance()
                args.append(self.expression())
        self.expect("op", ")", "',' or ')'")
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            wanted = (
                f"{spec.min_args}"
                if spec.min_args == spec.max_args
                else f"{spec.min_args} or more"
                if spec.max_args is None
                else f"{spec.min_args} to {spec.max_args}"
            )
            raise ExpressionError(
                f"{name}() takes {wanted} argument(s), got {len(args)} at {position}", position
            )
        for index, kind in spec.literal_args.items():
            if index < len(args):
                arg = args[index]
                if (
                    not isinstance(arg, Literal)
                    or not isinstance(arg.value, kind)
                    or isinstance(arg.value, bool)
                ):
                    raise ExpressionError(
                        f"argument {index + 1} of {name}() must be a literal "
                        f"{kind.__name__} at {getattr(arg, 'position', position)}",
                        arg.position,
                    )
        return Call(name, tuple(args), position)


def parse(text: str) -> Expr:
    """Parse expression text into an AST.

    Parameters
    ----------
    text:
        The expression, at most `MAX_LENGTH` characters, nested at most `MAX_DEPTH`
        deep.

    Returns
    -------
    The root node of the AST.

    Raises
    ------
    ExpressionError
        With `.position` at the offending character for any syntax error, unknown
        function, wrong arity, or input that is too long or too deeply nested.
    """
    if not isinstance(text, str):
        raise ExpressionError("an expression must be a string", 0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression too long at {MAX_LENGTH}: {len(text)} characters (limit {MAX_LENGTH})",
            MAX_LENGTH,
        )
    if not text.strip():
        raise ExpressionError("empty expression at 0", 0)
    parser = _Parser(_tokenize(text))
    tree = parser.expression()
    if not parser.at("eof"):
        parser.fail()
    depth = _tree_depth(tree)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"expression nested too deeply at 0 (limit {MAX_DEPTH})", 0)
    return tree


def _children(node: Expr) -> tuple[Expr, ...]:
    if isinstance(node, Unary | IsNull | InList):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def _tree_depth(root: Expr) -> int:
    deepest = 0
    stack: list[tuple[Expr, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(node))
    return deepest


def column_refs(expr: Expr) -> list[Column]:
    """Every column reference in the expression, in order of position.

    Parameters
    ----------
    expr:
        A parsed expression.

    Returns
    -------
    The `Column` nodes (a name used twice appears twice).
    """
    found: list[Column] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Column):
            found.append(node)
        stack.extend(_children(node))
    return sorted(found, key=lambda column: column.position)


def columns_used(expr: Expr) -> set[str]:
    """The names of the columns an expression reads.

    Parameters
    ----------
    expr:
        A parsed expression.

    Returns
    -------
    The set of column names.
    """
    return {column.name for column in column_refs(expr)}


def unknown_column_message(name: str, position: int, columns: Iterable[str]) -> str:
    """The message for a reference to a column that does not exist.

    Parameters
    ----------
    name:
        The column referred to.
    position:
        Its offset in the expression text.
    columns:
        The columns that do exist.

    Returns
    -------
    "unknown column 'x' at N; columns: [...]", with a suggestion when one is close.
    """
    available = sorted(str(c) for c in columns)
    shown = available if len(available) <= 30 else [*available[:30], "..."]
    close = difflib.get_close_matches(name, available, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown column '{name}' at {position}; columns: {shown}{hint}"


def validate(text: str, columns: Iterable[str]) -> None:
    """Check that an expression parses and only names columns that exist.

    Parameters
    ----------
    text:
        The expression text.
    columns:
        The column names available to it.

    Raises
    ------
    ExpressionError
        For the first problem found (syntax, unknown function, unknown column).
    """
    available = {str(c) for c in columns}
    for ref in column_refs(parse(text)):
        if ref.name not in available:
            raise ExpressionError(
                unknown_column_message(ref.name, ref.position, available), ref.position
            )
