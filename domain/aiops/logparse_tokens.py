"""Tokens of a masked log message, their comparison keys, routing keys and display text.

A masked message (placeholders in internal form, see `logparse_masks`) is split on
whitespace only, so a message keeps its token count whatever the values in it: nothing
is split at ``=`` (a query string or ``key=value`` keeps one token) or before ``(``
(``CLOCK(1)`` and ``LOGIN(uid=0)`` are one token each).

Each token is compared through its *key* (`tokenize`):

* a token made only of mask placeholders and punctuation (``<NUM>``, ``/<IP>``,
  ``(<SIZE>)``, ``<NUM>:<NUM>``) is the wildcard `WILD`: it is a variable by construction;
  so is a hex id that starts with a letter (eight hex digits or more, letters and digits
  both, one case: ``fb0ad7e3``), which masks leave alone to stay fast;
* otherwise placeholders (with a sign before them) become `WILD` and runs of digits
  become ``0``: ``eth0`` and ``eth1`` share the key ``eth0`` (one token, two values that
  differ only in their digits), while ``HTTP2`` and ``eth0`` stay two different constants.
  A word with a digit is therefore *not* a variable by its look; whether its position
  varies is decided from the lines themselves (see `logparse_tree`).

The prefix tree routes on `route_key`: a plain word or punctuation keeps its key, any
other token (with a digit, a dot, a slash, an underscore, a placeholder...) routes as
`WILD`, so an identifier at the start of a message does not scatter its lines over
many branches.

`generalize` merges the display text of two tokens at one template position, keeping
every piece the two share and showing placeholders by kind (``<IP>``, ``<HOST>``,
``<NUM>``) when both had the same kind, ``<*>`` otherwise; so a template never shows a
constant that is not in every line it groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from domain.aiops.logparse_masks import PLACEHOLDER_CLOSE, PLACEHOLDER_OPEN

__all__ = ["LIST", "WILD", "collapse_lists", "generalize", "is_identifier", "route_key", "tokenize"]

#: Wildcard, internal form (rendered as ``<*>``).
WILD: Final = PLACEHOLDER_OPEN + "*" + PLACEHOLDER_CLOSE
_NUM: Final = PLACEHOLDER_OPEN + "NUM" + PLACEHOLDER_CLOSE
#: Stands for a list of any length in a skeleton (see `collapse_lists`).
LIST: Final = PLACEHOLDER_OPEN + "LIST" + PLACEHOLDER_CLOSE

_PLACEHOLDER = re.compile("[-+]?\x02[^\x03]*\x03")
_DIGITS = re.compile("[0-9]+")
# A hex id that starts with a letter (a digit-first one is masked as <HEX>): at least
# eight hex digits, letters and digits both, one case ("fb0ad7e3", "DEADBEEF01").
_HEX_ID = re.compile(
    r"(?<![\w-])(?=[a-fA-F]*[0-9])(?=[a-fA-F0-9]*[a-fA-F])(?:[a-f][a-f0-9]{7,}|[A-F][A-F0-9]{7,})(?![\w-])"
)
# A whole token made only of wildcards and punctuation (after placeholders became WILD).
_PURE_VARIABLE = re.compile(
    r"(?<!\S)(?:[^\w\s\x02]|\x02\*\x03)*\x02\*\x03(?:[^\w\s\x02]|\x02\*\x03)*(?!\S)"
)
_ADJACENT_PLACEHOLDERS = re.compile("(?:\x02[^\x03]*\x03){2,}")
# A name with a masked part, made of word characters and name punctuation only (no dot
# leader: "dcbf.........<NUM>" is a label and its value).
_IDENTIFIER = re.compile(r"(?!.*\.\.)[\w.:/#@-]*\x02\*\x03[\w.:/#@\x02*\x03-]*")
_ROUTABLE = re.compile(r"[A-Za-z][A-Za-z'-]*[:,;.!?]?|[^\w\s\x02\x03]+")
# Pieces of a token for display: placeholders, digit runs, letter runs, other characters.
_PIECES = re.compile("[-+]?\x02[^\x03]*\x03|[0-9]+|[^\\W\\d]+|[^\\w\x02]")


def tokenize(masked: str) -> tuple[list[str], list[str]]:
    """Tokens of a masked message and their comparison keys.

    Parameters
    ----------
    masked:
        A message after masking (placeholders in internal form).

    Returns
    -------
    tuple[list[str], list[str]]
        The whitespace-separated tokens and one key per token (see the module doc).
    """
    tokens = masked.split()
    keyed = masked
    if PLACEHOLDER_OPEN in keyed:
        keyed = _PLACEHOLDER.sub(WILD, keyed)
    if _DIGITS.search(keyed) is not None:
        keyed = _HEX_ID.sub(WILD, keyed)
        if PLACEHOLDER_OPEN in keyed:
            keyed = _PURE_VARIABLE.sub(WILD, keyed)
        keyed = _DIGITS.sub("0", keyed)
    elif PLACEHOLDER_OPEN in keyed:
        keyed = _PURE_VARIABLE.sub(WILD, keyed)
    return tokens, keyed.split()


@lru_cache(maxsize=1 << 16)
def route_key(key: str) -> str:
    """The key a token routes on in the prefix tree: a word or punctuation, else `WILD`.

    Parameters
    ----------
    key:
        A token key from `tokenize`.

    Returns
    -------
    str
        ``key`` itself for a plain word (letters, an apostrophe or hyphen inside, one
        trailing punctuation mark) or pure punctuation; `WILD` for anything else.
    """
    return key if _ROUTABLE.fullmatch(key) else WILD


# An item of a list: a name or a value, no "=" or ":" (those are fields, not items).
_LIST_ITEM = "[\\w.\\-/@\x02\x03*]+"
_LIST_START = re.compile(f"[\\[(]?{_LIST_ITEM},")
_LIST_MIDDLE = re.compile(f"{_LIST_ITEM},")
_LIST_END = re.compile(f"{_LIST_ITEM}[\\])]?")


def collapse_lists(keys: Sequence[str]) -> list[str]:
    """Keys with each list of names or values replaced by one `LIST`.

    A list is two or more comma-separated items (``auth, cache, metrics``) that opens
    with a bracket (``[TERM, HUP, INT]``) or follows a token ending in ``:``
    (``plugins: auth, cache``). Used for skeletons only, so a list of any length does
    not make a message another message.

    Parameters
    ----------
    keys:
        Token keys of a message.

    Returns
    -------
    list[str]
        The keys, each list collapsed to `LIST`.
    """
    if "," not in "".join(keys):
        return list(keys)
    out: list[str] = []
    index = 0
    size = len(keys)
    while index < size:
        key = keys[index]
        opens = key[:1] in "[(" or (index > 0 and keys[index - 1].endswith(":"))
        if opens and _LIST_START.fullmatch(key):
            end = index + 1
            while end < size and _LIST_MIDDLE.fullmatch(keys[end]):
                end += 1
            if end < size and _LIST_END.fullmatch(keys[end]):
                out.append(LIST)
                index = end + 1
                continue
        out.append(key)
        index += 1
    return out


def is_identifier(key: str) -> bool:
    """Whether a key names an instance: a masked part (a number, an IP...) inside a name
    of word characters and ``. : / # @ - _`` only, such as ``rdd_<*>_<*>`` or
    ``node-<*>``, as opposed to structure such as ``(uid=<*>)`` or a label with a dot
    leader such as ``dcbf.........<*>``.

    Parameters
    ----------
    key:
        A token key from `tokenize` (not `WILD` itself).

    Returns
    -------
    bool
        True for an identifier: two different identifiers at one position are two
        values of a variable, not two messages.
    """
    return key != WILD and _IDENTIFIER.fullmatch(key) is not None


def _piece_kind(piece: str) -> int:
    """0 placeholder, 1 digits, 2 letters, 3 other."""
    if PLACEHOLDER_OPEN in piece:
        return 0
    if piece[0].isdigit():
        return 1
    if piece[0].isalpha() or piece[0] == "_":
        return 2
    return 3


def generalize(first: str, second: str) -> str:
    """Display text covering two tokens seen at one template position.

    Parameters
    ----------
    first, second:
        Token texts in internal form (the first may already be generalised).

    Returns
    -------
    str
        ``first`` when equal; else the pieces both share, with differing digit runs
        as ``<NUM>``, differing placeholders as their common kind or ``<*>`` and any
        other difference as ``<*>`` (adjacent placeholders become one ``<*>``);
        `WILD` when the two do not split into matching pieces (different punctuation
        or piece counts).
    """
    if first in (second, WILD):
        return first
    pieces_a = _PIECES.findall(first)
    pieces_b = _PIECES.findall(second)
    if len(pieces_a) != len(pieces_b):
        return WILD
    out: list[str] = []
    for a, b in zip(pieces_a, pieces_b, strict=True):
        if a == b:
            out.append(a)
            continue
        kind_a, kind_b = _piece_kind(a), _piece_kind(b)
        if kind_a == 3 or kind_b == 3:
            return WILD
        if kind_a == 0 and kind_b == 0 and a.lstrip("-+") == b.lstrip("-+"):
            out.append(a.lstrip("-+"))
        elif (kind_a == 1 and kind_b == 1) or ({kind_a, kind_b} == {0, 1} and _NUM in (a, b)):
            out.append(_NUM)
        else:
            out.append(WILD)
    return _ADJACENT_PLACEHOLDERS.sub(WILD, "".join(out))
