"""Loghub-style log formats: `<Date> <Time> <Level> \\[<Component>\\]: <Content>`.

A log format names the header fields of a log line between angle brackets. The text
between the placeholders is a regular expression in its own right (so `\\[<Pid>\\]` or
`(\\[<PID>\\])?` work), except that every run of spaces matches any run of whitespace.
The `<Content>` field holds the message that template mining works on.
"""

from __future__ import annotations

import re
from typing import Any

from domain.errors import DomainError
from domain.user_regex import RegexRefused, compile_user_regex

__all__ = ["CONTENT_FIELD", "LogFormatError", "compile_log_format"]

CONTENT_FIELD = "Content"

_PLACEHOLDER = re.compile(r"<([^<>]*)>")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACES = re.compile(r" +")


class LogFormatError(DomainError):
    """A log format that cannot be compiled (bad field name, bad regex, no `<Content>`)."""


def compile_log_format(log_format: str) -> tuple[Any, tuple[str, ...]]:
    """Compile a Loghub-style log format into an anchored regex and its field names.

    Parameters
    ----------
    log_format:
        The format, e.g. ``"<Date> <Time> <Level> \\[<Process>\\] <Component>: <Content>"``.
        Each ``<Name>`` becomes a lazy named group; the text between placeholders is
        kept as regex, with runs of spaces turned into ``\\s+``. It must contain a
        ``<Content>`` field, and each field name may appear once.

    Returns
    -------
    tuple[re2._Regexp, tuple[str, ...]]
        The compiled pattern (on RE2, see `domain.user_regex`; anchored at both ends, to
        be matched against a stripped line) and the header field names in the order
        they appear, ``Content`` included.
        Read the fields by name: groups written between placeholders, such as the
        ``(...)?`` in ``(\\[<PID>\\])?``, also count as (unnamed) groups.

    Raises
    ------
    LogFormatError
        When the format is empty, a field name is not an identifier or repeats, there
        is no ``<Content>`` field, or the text between placeholders is not valid regex.
    """
    if not log_format or not log_format.strip():
        raise LogFormatError("log format is empty")
    pieces = _PLACEHOLDER.split(log_format)
    regex_parts: list[str] = []
    fields: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex_parts.append(_SPACES.sub(r"\\s+", piece))
            continue
        name = piece.strip()
        if not _FIELD_NAME.fullmatch(name):
            raise LogFormatError(
                f"log format field <{piece}> is not a valid name (letters, digits, _)"
            )
        if name in fields:
            raise LogFormatError(f"log format field <{name}> appears twice")
        fields.append(name)
        regex_parts.append(f"(?P<{name}>.*?)")
    if CONTENT_FIELD not in fields:
        raise LogFormatError(f"log format has no <{CONTENT_FIELD}> field: {log_format!r}")
    source = "^" + "".join(regex_parts) + "$"
    try:
        pattern = compile_user_regex(source, f"log format {log_format!r}")
    except RegexRefused as exc:
        raise LogFormatError(str(exc)) from exc
    return pattern, tuple(fields)
