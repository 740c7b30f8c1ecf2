"""Masks: regexes that replace variable parts of a log message (IPs, numbers, paths...).

`DEFAULT_MASKS` is plain data, a tuple of ``(name, pattern)`` in the order they apply; a
masked span becomes ``<NAME>`` in templates. User masks (``{"name": ..., "regex": ...}``)
run first, one after the other and in the given order; the defaults then run in a few
groups (see `Masker`).

Writing style of the default patterns (it keeps masking fast): every pattern starts with
a single character class or literal, which lets `Masker` lead each combined regex with
the union of those first characters so the engine skips every other position in C, and
word-boundary checks come right after that first character as fixed-width look-behinds
(``[0-9](?<![A-Za-z0-9][0-9])(?<![0-9]\\.[0-9])`` reads "a digit that continues neither a
word nor a number").

`SHAPE_PATTERN` is the cheap normalisation the miner uses as a cache key: it blanks
stand-alone numbers (decimal, dotted or hex), and each span it blanks lies inside a span
that a default mask replaces, so two messages with the same shape get the same masked
text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from domain.errors import DomainError
from domain.user_regex import RegexRefused, compile_user_regex

__all__ = [
    "DEFAULT_MASKS",
    "PLACEHOLDER_CLOSE",
    "PLACEHOLDER_OPEN",
    "SHAPE_PATTERN",
    "MaskError",
    "Masker",
    "normalize_masks",
    "render_placeholders",
]

#: Internal brackets of a mask placeholder in masked text (never in rendered templates,
#: where they become ``<`` and ``>``). Control characters cannot collide with log text.
PLACEHOLDER_OPEN: Final = "\x02"
PLACEHOLDER_CLOSE: Final = "\x03"

_MASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Building blocks (the resulting patterns are the data below).
_D0 = r"[0-9](?<![A-Za-z0-9][0-9])(?<![0-9]\.[0-9])"  # a digit starting a number
_X0 = r"[0-9a-fA-F](?<![A-Za-z0-9.:][0-9a-fA-F])"  # a hex digit starting a hex group
_END = r"(?![A-Za-z0-9])"
_MONTH = (
    r"[JFMASOND][a-z]{2}(?<=Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r"(?<![A-Za-z][A-Za-z]{3})"
)
_WEEKDAY = r"[MTWFS][a-z]{2}(?<=Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?<![A-Za-z][A-Za-z]{3})"
_CLOCK = r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:[.,][0-9]+)?"
_MONTH_DAY_CLOCK = (
    r"[a-z]*\.?\s+[0-9]{1,2},?(?:\s+[0-9]{4})?\s+" + _CLOCK + r"(?:\s+[0-9]{4})?(?![0-9:])"
)
_H4 = r"[0-9a-fA-F]{1,4}"
_SIZE_UNIT = r"(?:[KkMGTPE]i?B|[KkMGTPE]b|B|[Bb]ytes?)"
_TIME_UNIT = r"(?:ns|us|µs|ms|s|sec|secs|m|min|mins|h|hr|hrs|d)"
_PATH_CHARS = r"[\w.@%+~,\x02\x03-]"  # placeholders masked earlier may sit in a path

# Masks whose first character is common in text (letters, ".", "~", ":") would make the
# regex engine stop almost everywhere, so they come in groups that each run only when a
# trigger finds something every match of the group contains. The last group (digits or
# "/" first) always runs.
_LOCATION_MASKS: Final = (
    # "http://wiki.apache.org/hadoop/NoRouteToHost", "hdfs://10.10.34.11:9000/pjhe"
    (
        "URL",
        r"[A-Za-z](?<![A-Za-z0-9+.-][A-Za-z])[A-Za-z0-9+.-]*+://[^\s\"'<>]*[^\s\"'<>.,;:!?)\]}]",
    ),
    # "./run.sh", "~/x", "C:\Temp\x.log"
    ("PATH", r"[.~](?<![\w./~-][.~])\.?/" + _PATH_CHARS + r"+(?:/" + _PATH_CHARS + r"*)*"),
    ("PATH", r"[A-Za-z](?<![A-Za-z0-9][A-Za-z]):\\[^\s\"'<>]*"),
)
_LOCATION_TRIGGER: Final = r":(?://|\\)|[.~]/"

_HEX_GROUP_MASKS: Final = (
    # "70293f72-844a-4b39-9ad6-fb0ad7e364e4"
    (
        "UUID",
        r"[0-9a-fA-F](?<![A-Za-z0-9-][0-9a-fA-F])[0-9a-fA-F]{7}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
        r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}" + _END,
    ),
    # "00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5E"
    ("MAC", _X0 + r"[0-9a-fA-F](?:(?::[0-9a-fA-F]{2}){5}|(?:-[0-9a-fA-F]{2}){5})(?![A-Za-z0-9:-])"),
    # "fe80:0:0:0:202:b3ff:fe1e:8329", "0:0:0:0:0:0:0:0:2181" (with a port)
    ("IP", _X0 + r"[0-9a-fA-F]{0,3}(?::" + _H4 + r"){7}(?::[0-9]{1,5})?(?![A-Za-z0-9:])"),
    # "fe80::1", "2001:db8::ff00:42:8329", "::1"
    (
        "IP",
        _X0 + r"[0-9a-fA-F]{0,3}(?::" + _H4 + r"){0,6}::(?:" + _H4 + r"(?::" + _H4 + r"){0,6})?"
        r"(?![A-Za-z0-9:])",
    ),
    ("IP", r":(?<![A-Za-z0-9:]:):" + _H4 + r"(?::" + _H4 + r"){0,6}(?![A-Za-z0-9:])"),
)
_HEX_GROUP_TRIGGER: Final = (
    r"::|:[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}:"
    r"|-[0-9a-fA-F]{2}-[0-9a-fA-F]{2}-[0-9a-fA-F]{2}-|-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
)

_MONTH_NAME_MASKS: Final = (
    # "Sun Jul 10 03:55:15 2005", "Jun 14 15:16:01", "Dec 4, 2005 04:47:44"
    ("DATETIME", _WEEKDAY + r"[a-z]*\.?,?\s+" + _MONTH + _MONTH_DAY_CLOCK),
    ("DATETIME", _MONTH + _MONTH_DAY_CLOCK),
)
_CLOCK_TRIGGER: Final = r":(?<=[0-9]:)[0-9]{2}(?![0-9])"

_PLAIN_MASKS: Final = (
    # "2015-10-18 18:01:47,978", "2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05+02:00"
    (
        "DATETIME",
        _D0 + r"[0-9]{3}-[0-9]{2}-[0-9]{2}(?:T|\s+)" + _CLOCK + r"(?:Z|\s?[+-][0-9]{2}:?[0-9]{2})?"
        r"(?![0-9])",
    ),
    # "2005.06.03", "2024-01-02", "17/06/09", "12/31/2024"
    ("DATE", _D0 + r"[0-9]{3}(?:-[0-9]{1,2}-|/[0-9]{1,2}/|\.[0-9]{1,2}\.)[0-9]{1,2}(?![0-9.])"),
    ("DATE", _D0 + r"[0-9]?/[0-9]{1,2}/[0-9]{2,4}(?![0-9/])"),
    # "03:55:15", "18:01:47,978"
    ("TIME", _D0 + r"[0-9]?:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?![0-9]|:[0-9])"),
    # "10.251.73.220", "10.251.73.220:50010"
    ("IP", _D0 + r"[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?(?![A-Za-z0-9]|\.[0-9])"),
    # "/etc/httpd/conf/workers2.properties"
    ("PATH", r"/(?<![\w./~-]/)[A-Za-z_.~@-]" + _PATH_CHARS + r"*(?:/" + _PATH_CHARS + r"*)*"),
    # "0x1f3a"
    ("HEX", r"0(?<![A-Za-z0-9]0)(?<![0-9]\.0)[xX][0-9a-fA-F]+" + _END),
    # "10KB", "4 MiB", "16.0 KB", "2364 bytes"
    ("SIZE", _D0 + r"[0-9]*+(?:\.[0-9]+)?+\s?" + _SIZE_UNIT + _END),
    # "12ms", "3.5s", "10min"
    ("DURATION", _D0 + r"[0-9]*+(?:\.[0-9]+)?+" + _TIME_UNIT + _END),
    # "0245a0d8" (a digit first, then hex letters)
    ("HEX", _D0 + r"[0-9]*+[a-fA-F][0-9a-fA-F]*+" + _END),
    # "42", "3.14", "1.2.3" (a dotted version); "-7" keeps its sign outside
    ("NUM", _D0 + r"[0-9]*+(?:\.[0-9]+)*+" + _END),
)

# Version 2 changes to the v1 groups above: a path keeps its query string ("/v2/servers?
# changes-since=..." is one path, so "=" in it never matters), a duration may have a space
# before a spelled unit ("<1 sec", "5 seconds"), and a run of six or more colon-separated
# hex bytes is a MAC-like id whatever its length.
_QUERY = r"(?:\?[^\s\"'<>]*[^\s\"'<>.,;:!?)\]}])?"
_SPELLED_TIME_UNIT = (
    r"(?:ms|msecs?|milliseconds?|sec|secs|seconds?|min|mins|minutes?|hrs?|hours?|days?)"
)
_LOCATION_MASKS_V2: Final = (
    _LOCATION_MASKS[0],
    ("PATH", _LOCATION_MASKS[1][1] + _QUERY),
    _LOCATION_MASKS[2],
)
_PLAIN_MASKS_V2: Final = tuple(
    mask
    for name, pattern in _PLAIN_MASKS
    for mask in (
        ((name, pattern + _QUERY),)
        if name == "PATH"
        else (
            (
                (name, pattern),
                ("DURATION", _D0 + r"[0-9]*+(?:\.[0-9]+)?+ " + _SPELLED_TIME_UNIT + _END),
            )
            if name == "DURATION"
            else ((name, pattern),)
        )
    )
)
_HEX_GROUP_MASKS_V2: Final = (
    _HEX_GROUP_MASKS[0],
    # "00:1a:2b:3c:4d:5e", and longer runs of colon-separated hex bytes (EUI-64, WWN)
    (
        "MAC",
        _X0 + r"[0-9a-fA-F](?:(?::[0-9a-fA-F]{2}){5,}|(?:-[0-9a-fA-F]{2}){5})(?![A-Za-z0-9:-])",
    ),
    *_HEX_GROUP_MASKS[2:],
)

# Names in DNS form. Safe by construction: a forward name must end in a generic top-level
# domain (optionally followed by a country code), a second-level domain and a country code
# ("co.uk"), or a country code after at least two labels one of which holds a digit or a
# hyphen (and not a common file extension: "x-1.tar.gz" is a file); a reverse name
# ("org.vendor.agent.sync") must start with a generic top-level domain and be lowercase
# throughout, so a Java class ("org.apache.hadoop.ipc.Client") or a property name
# ("mapreduce.task.id") is left alone. A ":port" is part of the name.
_HOST_START = r"[A-Za-z0-9](?<![\w.-][A-Za-z0-9])"
_HOST_END = r"(?::[0-9]{1,5})?(?![\w-]|\.[A-Za-z0-9])"
_GENERIC_TLD = (
    r"(?:com|net|org|edu|gov|mil|int|io|info|biz|arpa|local|localdomain|lan|internal|corp)"
)
_FILE_EXTENSION = (
    r"(?<!\.(?:gz|xz|bz|js|py|sh|so|pl|rb|md|ts|cs|go|rs|db|ps|hs|ml|vb|tf|mk|in|am|ac|cc|hh"
    r"|el|rc|pm|pc|sc|lo|la|mo|po|ko|gy|hx|jl|kt|nb|rd|ss|sv|vh|xs|ui|qm))"
)
_HOST_MASKS: Final = (
    # "www.example.com", "db-3.eu.example.net:6432", "proxy.cse.cuhk.edu.hk:5070", "x.zen.co.uk"
    (
        "HOST",
        _HOST_START
        + r"[A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*\.(?:"
        + _GENERIC_TLD
        + r"(?:\.[a-z]{2})?|(?:co|ac|ne|or|go)\.[a-z]{2})"
        + _HOST_END,
    ),
    # "aml-sfh-3310b.adsl.wanadoo.nl", "62.99.164.82.sh.interxion.inode.at"
    (
        "HOST",
        _HOST_START
        + r"(?=[A-Za-z0-9.-]*?[0-9-])[A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)+\.[a-z]{2}"
        + _FILE_EXTENSION
        + _HOST_END,
    ),
    # "org.vendor.agent.sync", "com.apple.xpc.launchd"
    (
        "HOST",
        r"[a-z](?<![\w.-][a-z])(?:(?<=c)om|(?<=o)rg|(?<=n)et|(?<=i)o|(?<=e)du|(?<=g)ov)"
        r"\.[a-z0-9-]+(?:\.[a-z0-9_-]+)+(?![\w-]|\.[A-Za-z0-9])",
    ),
)
# A dot ending a name in a top-level domain, or a dot after a reverse name's first label.
_HOST_TRIGGER: Final = (
    r"\.(?:(?:[a-z]{2}|" + _GENERIC_TLD[3:-1] + r")(?![\w-]|\.[A-Za-z0-9])"
    r"|(?<=(?<![\w.-])com\.|(?<![\w.-])org\.|(?<![\w.-])net\.|(?<![\w.-])edu\.)"
    r"|(?<=(?<![\w.-])gov\.)|(?<=(?<![\w.-])io\.))"
)

# Version 1 of the defaults (STATE_VERSION 1 miners): kept so a restored v1 miner masks
# the lines it routes to its old templates exactly as before.
_MASK_GROUPS_V1: Final = (
    (_LOCATION_TRIGGER, _LOCATION_MASKS),
    (_HEX_GROUP_TRIGGER, _HEX_GROUP_MASKS),
    (_CLOCK_TRIGGER, _MONTH_NAME_MASKS),
    (None, _PLAIN_MASKS),
)

#: Mask groups in the order they run: ``(trigger or None, masks)``.
_MASK_GROUPS: Final = (
    (_LOCATION_TRIGGER, _LOCATION_MASKS_V2),
    (_HOST_TRIGGER, _HOST_MASKS),
    (_HEX_GROUP_TRIGGER, _HEX_GROUP_MASKS_V2),
    (_CLOCK_TRIGGER, _MONTH_NAME_MASKS),
    (None, _PLAIN_MASKS_V2),
)

#: The default masks, ``(name, pattern)``, in the order they are applied.
DEFAULT_MASKS: Final[tuple[tuple[str, str], ...]] = tuple(
    mask for _, masks in _MASK_GROUPS for mask in masks
)

#: Cache-key normalisation: stand-alone numbers, decimal, dotted or hex; each such span
#: lies inside a span that one of the default masks replaces.
SHAPE_PATTERN: Final = _D0 + r"(?:(?<=0)[xX][0-9a-fA-F]+|[0-9a-fA-F]*+(?:\.[0-9]+)*+)" + _END


class MaskError(DomainError):
    """A user mask that cannot be used (bad name, invalid regex, matches nothing but '')."""


def normalize_masks(
    masks: Iterable[Mapping[str, str] | Sequence[str]] | None,
) -> tuple[tuple[str, str], ...]:
    """Validate user masks and return them as ``(name, pattern)`` pairs.

    Parameters
    ----------
    masks:
        Items shaped ``{"name": ..., "regex": ...}`` (``"pattern"`` is accepted for
        ``"regex"``) or ``(name, pattern)`` pairs; None means no user masks.

    Returns
    -------
    tuple[tuple[str, str], ...]
        The masks in the given order.

    Raises
    ------
    MaskError
        When an item has the wrong shape, a name is not an identifier, a regex does
        not compile, or a regex matches the empty string.
    """
    if masks is None:
        return ()
    result: list[tuple[str, str]] = []
    for position, item in enumerate(masks):
        if isinstance(item, Mapping):
            name = item.get("name")
            pattern = item.get("regex", item.get("pattern"))
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            name, pattern = item[0], item[1]
        else:
            raise MaskError(f"mask #{position + 1} must be {{name, regex}}, got {item!r}")
        if not isinstance(name, str) or not _MASK_NAME.fullmatch(name):
            raise MaskError(
                f"mask #{position + 1} has an invalid name {name!r} (letters, digits, _)"
            )
        if not isinstance(pattern, str) or not pattern:
            raise MaskError(f"mask {name!r} has no regex")
        try:
            compiled = compile_user_regex(pattern, f"mask {name!r} regex {pattern!r}")
        except RegexRefused as exc:
            raise MaskError(str(exc)) from exc
        if compiled.fullmatch("") is not None:
            raise MaskError(f"mask {name!r} regex {pattern!r} matches the empty string")
        result.append((name, pattern))
    return tuple(result)


def _split_first(pattern: str) -> tuple[str, str]:
    """Split a default pattern into its first character class and the rest."""
    if pattern.startswith("["):
        index = 2 if pattern[1:2] == "]" else 1
        if pattern[index : index + 1] == "^":
            raise ValueError(f"default mask must not start with a negated class: {pattern}")
        while pattern[index] != "]":
            index += 2 if pattern[index] == "\\" else 1
        return pattern[: index + 1], pattern[index + 1 :]
    if pattern.startswith("\\"):
        return pattern[:2], pattern[2:]
    if pattern[:1] in "()|*+?{.^$":
        raise ValueError(f"default mask must start with a class or a literal: {pattern}")
    return re.escape(pattern[0]), pattern[1:]


def _combine(
    masks: Sequence[tuple[str, str]],
) -> tuple[re.Pattern[str], Callable[[re.Match[str]], str]]:
    """One regex for `masks`, led by the union of their first characters.

    The leading class lets the regex engine skip positions that cannot start any mask
    without entering the alternation; each alternative re-checks its own first class
    with a look-behind and ends with an empty group whose index names the mask.
    """
    firsts: list[str] = []
    alternatives: list[str] = []
    names: dict[int, str] = {}
    group = 0
    for name, pattern in masks:
        first, rest = _split_first(pattern)
        firsts.append(first)
        alternatives.append(f"(?<={first}){rest}()")
        group += re.compile(pattern).groups + 1
        names[group] = PLACEHOLDER_OPEN + name + PLACEHOLDER_CLOSE
    regex = re.compile("(?:" + "|".join(firsts) + ")(?:" + "|".join(alternatives) + ")")

    def placeholder(match: re.Match[str]) -> str:
        return names[match.lastindex or 0]

    return regex, placeholder


class Masker:
    """Applies user masks then the default masks to a message.

    User masks run one after the other, in order. The default masks run in groups, each
    as one combined regex (see `_combine`) in which the leftmost match wins and, at the
    same position, the earlier mask: first the groups whose masks start with a common
    character (URLs and relative or Windows paths; UUIDs, MACs and IPv6; dates with a
    month name), each only when its trigger finds something all its matches contain,
    then the masks that start with a digit or "/".

    Parameters
    ----------
    user_masks:
        Validated ``(name, pattern)`` pairs (see `normalize_masks`), applied first.
    use_default_masks:
        Apply `DEFAULT_MASKS` after the user masks.
    version:
        2 (default) for `DEFAULT_MASKS`; 1 for the defaults of version 1 (no ``HOST``,
        paths without query strings, durations without a space), which a miner restored
        from a version-1 state uses for its old templates.
    """

    def __init__(
        self,
        user_masks: Sequence[tuple[str, str]] = (),
        *,
        use_default_masks: bool = True,
        version: int = 2,
    ) -> None:
        if version not in (1, 2):
            raise ValueError(f"mask version must be 1 or 2, got {version}")
        self.user_masks = tuple(user_masks)
        self.use_default_masks = use_default_masks
        # User masks run on RE2 (linear time, see domain/user_regex.py); the defaults
        # below need look-behinds and stay on `re`.
        self._user = [
            (
                compile_user_regex(pattern, f"mask {name!r}"),
                PLACEHOLDER_OPEN + name + PLACEHOLDER_CLOSE,
            )
            for name, pattern in self.user_masks
        ]
        self._groups: list[
            tuple[re.Pattern[str] | None, re.Pattern[str], Callable[[re.Match[str]], str]]
        ] = []
        if use_default_masks:
            for trigger, masks in _MASK_GROUPS if version == 2 else _MASK_GROUPS_V1:
                regex, placeholder = _combine(masks)
                compiled_trigger = None if trigger is None else re.compile(trigger)
                self._groups.append((compiled_trigger, regex, placeholder))

    def mask(self, text: str) -> str:
        """Mask `text`, with placeholders in the internal form (``\\x02NAME\\x03``).

        Parameters
        ----------
        text:
            A log message.

        Returns
        -------
        str
            The masked message.
        """
        for user_regex, user_placeholder in self._user:
            text = user_regex.sub(user_placeholder, text)
        for trigger, regex, placeholder in self._groups:
            if trigger is None or trigger.search(text) is not None:
                text = regex.sub(placeholder, text)
        return text

    def apply(self, text: str) -> str:
        """Mask `text` and render placeholders as ``<NAME>``.

        Parameters
        ----------
        text:
            A log message.

        Returns
        -------
        str
            The masked message, e.g. ``"connected to <IP> in <DURATION>"``.
        """
        return render_placeholders(self.mask(text))


_RENDER = str.maketrans({PLACEHOLDER_OPEN: "<", PLACEHOLDER_CLOSE: ">"})


def render_placeholders(text: str) -> str:
    """Turn internal placeholders (``\\x02NAME\\x03``) into ``<NAME>``.

    Parameters
    ----------
    text:
        Masked text or a template in internal form.

    Returns
    -------
    str
        The text with ``<`` and ``>`` around placeholder names.
    """
    return text.translate(_RENDER)
