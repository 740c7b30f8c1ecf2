from __future__ import annotations

import pandas as pd
import pytest

from domain.dataops.expression_eval import evaluate, evaluate_mask
from domain.dataops.expression_parser import (
    MAX_DEPTH,
    MAX_LENGTH,
    Binary,
    Column,
    ExpressionError,
    Literal,
    columns_used,
    parse,
    validate,
)

NA = pd.NA


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "price": [1.5, None, 3.0, 10.0],
            "n": [1, 2, 3, 0],
            "name": [" Ann", "bob", None, "Cid"],
            "flag": pd.array([True, None, False, True], dtype="boolean"),
            "ts": pd.to_datetime(["2024-01-02", "2023-05-06", None, "2024-03-01"], utc=True),
            "unit price": [1, 2, 3, 4],
        }
    )


def _values(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series.tolist()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", [7] * 4),
        ("(1 + 2) * 3", [9] * 4),
        ("n - 1 - 1", [-1, 0, 1, -2]),
        ("-n", [-1, -2, -3, 0]),
        ("n % 2", [1, 0, 1, 0]),
        ("price * 2", [3.0, None, 6.0, 20.0]),
        ("6 / n", [6.0, 3.0, 2.0, None]),
        ("10 % n", [0, 0, 1, None]),
        ("1.5e1", [15.0] * 4),
        ("'it''s'", None),
        ("\"dq\" + 'x'", ["dqx"] * 4),
        ("'a\\'b'", ["a'b"] * 4),
        ("`unit price` * 10", [10, 20, 30, 40]),
        ("price > 2", [False, None, True, True]),
        ("price >= 3 and n != 0", [False, None, True, False]),
        ("n == 1 or price > 5", [True, None, False, True]),
        ("price > 100 or flag", [True, None, False, True]),
        ("not flag", [False, None, True, False]),
        ("NOT (n < 2) AND TRUE", [False, True, True, False]),
        ("name in ('bob', 'Cid')", [False, True, None, True]),
        ("n not in (1, -3, 0)", [False, True, True, False]),
        ("price is null", [False, True, False, False]),
        ("price is not null", [True, False, True, True]),
        ("null", [None] * 4),
        ("lower(strip(name))", ["ann", "bob", None, "cid"]),
        ("upper(name)", [" ANN", "BOB", None, "CID"]),
        ("length(name)", [4, 3, None, 3]),
        ("abs(n - 2)", [1, 0, 1, 2]),
        ("round(price / 3, 2)", [0.5, None, 1.0, 3.33]),
        ("round(price)", [2.0, None, 3.0, 10.0]),
        ("coalesce(price, n, 0)", [1.5, 2.0, 3.0, 10.0]),
        ("coalesce(name, 'none')", [" Ann", "bob", "none", "Cid"]),
        ("year(ts)", [2024, 2023, None, 2024]),
        ("month(ts) + day(ts)", [3, 11, None, 4]),
        ("ts >= '2024-01-01'", [True, False, None, True]),
        ("contains(name, 'o')", [False, True, None, False]),
        ("startswith(name, 'C')", [False, False, None, True]),
        ("LOWER(name) == 'bob'", [False, True, None, False]),
    ],
)
def test_the_grammar_evaluates_column_wise_with_sql_nulls(
    frame: pd.DataFrame, text: str, expected: list[object] | None
) -> None:
    if expected is None:  # SQL-style doubled quotes are not part of the grammar
        with pytest.raises(ExpressionError):
            parse(text)
        return
    result = evaluate(parse(text), frame)
    assert list(result.index) == list(frame.index)
    assert _values(result) == expected


def test_a_filter_mask_treats_null_as_false_and_keeps_the_frame_index(
    frame: pd.DataFrame,
) -> None:
    indexed = frame.set_index(pd.Index([10, 20, 30, 40]))
    mask = evaluate_mask(parse("price > 2"), indexed)
    assert mask.dtype == bool
    assert mask.tolist() == [False, False, True, True]
    assert list(mask.index) == [10, 20, 30, 40]


def test_a_filter_must_be_true_or_false(frame: pd.DataFrame) -> None:
    with pytest.raises(ExpressionError, match="filter needs true/false"):
        evaluate_mask(parse("price + 1"), frame)


def test_parsing_builds_an_ast_with_positions() -> None:
    tree = parse("a + 2 > `b c`")
    assert isinstance(tree, Binary) and tree.op == ">" and tree.position == 6
    assert isinstance(tree.left, Binary) and tree.left.left == Column("a", 0)
    assert tree.left.right == Literal(2, 4)
    assert tree.right == Column("b c", 8)


def test_columns_used_lists_every_column_read() -> None:
    assert columns_used(parse("lower(a) == 'x' and (b + `c d`) in (1, 2) or e is null")) == {
        "a",
        "b",
        "c d",
        "e",
    }
    assert columns_used(parse("1 + 2")) == set()


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("price >> 1", "unexpected token '>>' at 6", 6),
        ("price = 1", "unexpected token '=' at 6; use '=='", 6),
        ("a && b", "use 'and'", 2),
        ("system('ls')", "unknown function 'system' at 0; known: [", 0),
        ("(1 + 2", "unexpected end of expression at 6", 6),
        ("1 +", "unexpected end of expression", 3),
        ("1 2", "unexpected token '2' at 2", 2),
        ("'open", "unterminated string at 0", 0),
        ("`open", "unterminated back-quoted name at 0", 0),
        ("x is 1", "expected 'null' after 'is'", 5),
        ("x in (1, null)", "use 'is null'", 9),
        ("x in (y)", "must be literals", 6),
        ("round(x, 'a')", "argument 2 of round() must be a literal int", 9),
        ("contains(x, y)", "argument 2 of contains() must be a literal str", 12),
        ("lower(a, b)", "lower() takes 1 argument(s), got 2", 0),
        ("coalesce()", "coalesce() takes 1 or more argument(s), got 0", 0),
        ("", "empty expression", 0),
        ("12abc", "malformed number at 0", 0),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert message in str(caught.value)
    assert caught.value.position == position


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "__import__('os').system('ls')",
        "a.__class__",
        "a.__class__.__bases__",
        "open('x')",
        "eval('1')",
        "exec('1')",
        "getattr(a, 'b')",
        "lambda: 1",
        "a; b",
        "a[0]",
        "{'a': 1}",
        "[1, 2]",
        "a if b else c",
        "f'{a}'",
        "@a",
        "a ** 2",
        "a // 2",
        "a := 1",
        "#comment",
        "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
        "-" * (MAX_DEPTH + 1) + "1",
        "not " * (MAX_DEPTH + 1) + "a",
        "lower(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "+".join(["a"] * (MAX_DEPTH + 2)),
        "(" * 100_000,
        "a" * (MAX_LENGTH + 1),
        "1 + " * 5000 + "1",
    ],
)
def test_hostile_inputs_are_refused_at_parse_time(text: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse(text)
    assert isinstance(caught.value, ValueError)
    assert 0 <= caught.value.position <= len(text)


def test_wide_but_shallow_expressions_are_fine(frame: pd.DataFrame) -> None:
    text = "n in (" + ", ".join(str(i) for i in range(500)) + ")"
    assert evaluate_mask(parse(text), frame).all()


def test_validate_refuses_unknown_columns_with_the_known_ones_listed() -> None:
    with pytest.raises(ExpressionError) as caught:
        validate("price > 1 and prcie < 2", ["price", "qty"])
    assert str(caught.value).startswith(
        "unknown column 'prcie' at 14; columns: ['price', 'qty'] (did you mean 'price'?)"
    )
    assert caught.value.position == 14
    validate("price > 1", ["price"])


def test_validate_reports_syntax_before_columns() -> None:
    with pytest.raises(ExpressionError, match="unknown function 'system'"):
        validate("system(nope)", [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name < 1", "cannot apply '<' to str and int64 at 5"),
        ("name * 2 - 1", "cannot apply '-'"),
        ("lower(price)", "lower() needs text, got float64 at 0"),
        ("abs(name)", "abs() needs numbers"),
        ("year(name)", "year() needs datetimes"),
        ("n and flag", "'and' needs true/false values, got int64 at 0"),
        ("not n", "'not' needs true/false"),
        ("-name", "'-' needs numbers"),
        ("ts > 'yesterday-ish'", "cannot read 'yesterday-ish' as a date at 5"),
        ("prcie > 1", "unknown column 'prcie' at 0; columns: ["),
    ],
)
def test_type_errors_surface_as_expression_errors_at_evaluation(
    frame: pd.DataFrame, text: str, message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(parse(text), frame)
    assert message in str(caught.value)


def test_evaluating_an_empty_frame_gives_an_empty_series(frame: pd.DataFrame) -> None:
    empty = frame.iloc[0:0]
    assert len(evaluate(parse("price * 2 > 1 and lower(name) == 'a'"), empty)) == 0
    assert len(evaluate_mask(parse("n in (1)"), empty)) == 0


def test_naive_datetime_columns_compare_with_date_strings() -> None:
    frame = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-06-01"])})
    assert evaluate_mask(parse("ts > '2024-03-01T00:00:00+00:00'"), frame).tolist() == [
        False,
        True,
    ]


def test_the_parser_needs_only_the_standard_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import domain.dataops.expression_parser, domain.dataops.spec; "
        "print('pandas' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
