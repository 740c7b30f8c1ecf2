"""Regexes a user sends (log formats, masks, session keys, ETL checks) run on RE2.

Python's `re` backtracks: a pattern such as ``(a+)+$`` against a long line of ``a``
takes exponential time and would hold a worker for hours. RE2 (Google's engine, through
the `google-re2` bindings) matches in time linear in the text, whatever the pattern, at
the price of refusing backreferences and look-arounds. So every pattern from a user is
compiled here, once at submit (a bad one is a 422 naming the field) and again on the
worker; the project's own patterns, which need look-arounds, stay on `re`.
"""

from __future__ import annotations

from typing import Any

import re2

from domain.errors import DomainError

__all__ = ["MAX_NESTING", "RegexRefused", "check_user_regex", "compile_user_regex", "nesting_depth"]

MAX_NESTING = 50
"""Deepest parenthesis nesting accepted: deeper patterns only serve to exhaust a parser."""

MAX_PROGRAM_BYTES = 8 << 20
"""Memory RE2 may use for one compiled pattern, in bytes (its default budget)."""

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_PROGRAM_BYTES
_OPTIONS.log_errors = False  # the error comes back as an exception, not on stderr


class RegexRefused(DomainError):
    """A user regex that cannot run on RE2 (or nests too deep); the message says why."""


def nesting_depth(pattern: str) -> int:
    """Deepest nesting of groups in `pattern` (escapes and character classes skipped).

    Parameters
    ----------
    pattern:
        A regular expression.

    Returns
    -------
    int
        0 for a pattern without groups, 1 for ``(a)``, 2 for ``((a))``.
    """
    depth = deepest = 0
    index = 0
    in_class = False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            # A "]" right after "[" or "[^" is a literal member of the class.
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        index += 1
    return deepest


def compile_user_regex(pattern: str, what: str) -> Any:
    """Compile a user's regex on RE2.

    Parameters
    ----------
    pattern:
        The regular expression (Python syntax, less backreferences and look-arounds).
    what:
        What the pattern is, for the message (``"mask 'ID'"``, ``"log format"``).

    Returns
    -------
    re2._Regexp
        A compiled pattern with `re`'s methods (`search`, `fullmatch`, `sub`,
        `finditer`, `groups`, ...).

    Raises
    ------
    RegexRefused
        When the pattern nests groups deeper than `MAX_NESTING`, or RE2 refuses it
        (with RE2's reason, e.g. a look-behind or a backreference).
    """
    depth = nesting_depth(pattern)
    if depth > MAX_NESTING:
        raise RegexRefused(
            f"{what} nests parentheses {depth} deep; at most {MAX_NESTING} levels are allowed"
        )
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        reason = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)) or (
            "not supported"
        )
        if "perl operator" in reason or "escape" in reason:
            # What `re` accepts but RE2 does not: say why, not only what.
            reason += (
                " (regexes run on RE2, in linear time: backreferences and look-arounds "
                "are not supported)"
            )
        raise RegexRefused(f"{what} is not a valid regex: {reason}") from exc


def check_user_regex(pattern: str, what: str) -> str:
    """`compile_user_regex` for a validator: the pattern back, or `RegexRefused`."""
    compile_user_regex(pattern, what)
    return pattern
