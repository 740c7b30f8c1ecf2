"""Secrets out of everything we print, log or store: `redact`.

Passwords travel inside URLs (`postgresql://user:PASSWORD@host/db`, `redis://:PASSWORD@host`,
a webhook `https://user:PASSWORD@hooks.example/...` or `...?token=...`), and a few
settings are secrets outright (the API token, Flower's basic auth). `redact` replaces
the password of every URL in a text, the values of secret-looking query parameters, and
each registered secret, by `***`. The log handlers, the job rows' errors and results,
and the CLI's output go through it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

__all__ = ["MASK", "redact", "redact_value", "register_secrets", "secrets_of_url"]

MASK = "***"

MIN_SECRET_CHARS = 4
"""Shorter values are not registered: masking "a" everywhere would say nothing useful."""

_USERINFO = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"'<>]*:)(?P<password>[^@/\s\"'<>]+)(?=@)"
)
_SECRET_QUERY = re.compile(
    r"(?P<head>[?&;](?:[A-Za-z_-]*(?:token|password|passwd|secret|signature|sig|key|auth)"
    r"[A-Za-z_-]*)=)(?P<value>[^&;#\s\"'<>]+)",
    re.IGNORECASE,
)

_lock = threading.Lock()
_secrets: set[str] = set()


def secrets_of_url(url: str | None) -> list[str]:
    """The password (as written and decoded) in a URL's user info, if any."""
    if not url:
        return []
    found: list[str] = []
    for match in _USERINFO.finditer(url):
        password = match.group("password")
        found += [password, unquote(password)]
    for match in _SECRET_QUERY.finditer(url):
        found += [match.group("value"), unquote(match.group("value"))]
    return found


def register_secrets(values: Iterable[str | None]) -> None:
    """Remember values that must never be shown (from the settings, at start)."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET_CHARS:
                _secrets.add(value)


def redact(text: str) -> str:
    """`text` with URL passwords, secret query values and registered secrets as `***`."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m.group("head") + MASK, text)
    text = _SECRET_QUERY.sub(lambda m: m.group("head") + MASK, text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)  # longest first: no partial leftovers
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_value(value: Any) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value
