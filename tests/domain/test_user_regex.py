"""User regexes run on RE2: linear time, and a plain refusal for what RE2 cannot run."""

from __future__ import annotations

import pytest

from domain.aiops.log_counts import extract_session_keys
from domain.aiops.logparse import parse_log
from domain.aiops.logparse_format import LogFormatError, compile_log_format
from domain.aiops.logparse_masks import Masker, MaskError, normalize_masks
from domain.user_regex import MAX_NESTING, RegexRefused, compile_user_regex, nesting_depth

CATASTROPHIC = r"(a+)+$"
LONG_LINE = "a" * 50_000 + "!"


@pytest.mark.parametrize(
    ("pattern", "depth"),
    [
        ("abc", 0),
        ("(a)", 1),
        ("((a)(b))", 2),
        (r"\(\(\(a", 0),
        ("[(((]x", 0),
        ("[]((]x", 0),
        ("[^](]x(y)", 1),
        ("(" * 60 + "a" + ")" * 60, 60),
    ],
)
def test_nesting_depth_counts_groups_outside_classes_and_escapes(pattern: str, depth: int) -> None:
    assert nesting_depth(pattern) == depth


@pytest.mark.timeout(10)
def test_a_catastrophic_pattern_on_a_long_line_completes() -> None:
    regex = compile_user_regex(CATASTROPHIC, "test")
    assert regex.search(LONG_LINE) is None
    assert regex.search("a" * 50_000) is not None


@pytest.mark.timeout(10)
def test_a_catastrophic_mask_on_a_long_line_completes() -> None:
    masker = Masker(normalize_masks([{"name": "EVIL", "regex": CATASTROPHIC}]))
    assert masker.apply("x" + LONG_LINE) == "x" + LONG_LINE
    assert masker.apply("b" + "a" * 50_000) == "b<EVIL>"


@pytest.mark.timeout(10)
def test_a_catastrophic_log_format_on_a_long_line_completes() -> None:
    result = parse_log([LONG_LINE], log_format=r"<Level> (a+)+x <Content>")
    assert result.unmatched_count == 1


@pytest.mark.timeout(10)
def test_a_catastrophic_session_pattern_on_a_long_line_completes() -> None:
    assert extract_session_keys(LONG_LINE, r"(a+)+b") == ()


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "backreferences and look-arounds are not supported"),
        (r"(?<=user )\w+", "backreferences and look-arounds are not supported"),
        (r"x(?!y)", "backreferences and look-arounds are not supported"),
        ("(unclosed", "missing )"),
    ],
)
def test_what_re2_cannot_run_is_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(RegexRefused, match="mask 'X' is not a valid regex") as caught:
        compile_user_regex(pattern, "mask 'X'")
    assert reason in str(caught.value)


def test_patterns_nested_too_deep_are_refused_before_compiling() -> None:
    deep = "(" * 500 + "a" + ")" * 500
    with pytest.raises(RegexRefused, match=f"nests parentheses 500 deep; at most {MAX_NESTING}"):
        compile_user_regex(deep, "session_pattern")
    assert compile_user_regex("(" * MAX_NESTING + "a" + ")" * MAX_NESTING, "ok").search("a")


def test_a_lookbehind_mask_is_a_mask_error_naming_the_mask() -> None:
    with pytest.raises(MaskError, match=r"mask 'USER'.*look-arounds are not supported"):
        normalize_masks([{"name": "USER", "regex": r"(?<=user )\w+"}])


def test_a_log_format_with_a_backreference_is_a_log_format_error() -> None:
    with pytest.raises(LogFormatError, match=r"log format .* is not a valid regex"):
        compile_log_format(r"<Date> (x)\1 <Content>")
