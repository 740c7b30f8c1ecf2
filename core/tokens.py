"""Scoped API tokens: created once and shown once, kept as SHA-256 hashes.

A token is 32 random bytes (`secrets.token_urlsafe`) behind a `trs_` prefix, so a
leaked one is easy to recognise in a log or a repository. The table keeps its SHA-256:
a token is found by the hash of what the caller sent (an indexed lookup, not a scan), and
the stored hash is compared again with `secrets.compare_digest`. A plain hash is enough
here (no salt, no slow KDF) because the token is random and long: there is nothing to
guess from a dictionary.

`last_used_at` is written at most once a minute per token (a conditional UPDATE), so a
busy client does not turn every read into a write.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotFound
from core.tables import ApiToken

SCOPES = ("read", "submit", "admin")
"""What a token may do, each including the ones before it."""

PREFIX = "trs_"
LAST_USED_EVERY = timedelta(minutes=1)
_DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh token: the prefix and 32 random bytes, URL-safe."""
    return PREFIX + secrets.token_urlsafe(32)


def parse_expiry(text: str, *, now: datetime) -> datetime:
    """When a token given `--expires text` at `now` stops working.

    Parameters
    ----------
    text:
        A duration (`90m`, `12h`, `30d`, `2w`) counted from `now`, or an ISO date
        (`2027-01-31`, midnight UTC) or date-time (`2027-01-31T12:00:00+00:00`; no zone
        means UTC).
    now:
        The current time (aware, UTC).

    Returns
    -------
    The expiry, aware and in UTC; InvalidInput when the text is neither form or is not
    in the future.
    """
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise InvalidInput(f"expiry {text!r} must be a positive duration")
        return now + timedelta(**{_UNITS[match.group(2)]: amount})
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            expires = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            expires = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"expiry {text!r} is neither a duration (90m, 12h, 30d, 2w) nor an ISO date"
        ) from None
    expires = expires.replace(tzinfo=UTC) if expires.tzinfo is None else expires.astimezone(UTC)
    if expires <= now:
        raise InvalidInput(f"expiry {text!r} is not in the future")
    return expires


@dataclass(frozen=True)
class Issued:
    """A token just created: its row and the token itself (shown this once)."""

    row: ApiToken
    token: str


def create_token(
    *,
    session: Session,
    scope: str,
    now: datetime,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> Issued:
    """Create a token of `scope`; the caller commits. Conflict if the name is taken."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)} (got {scope!r})")
    if name is not None and not _NAME.match(name):
        raise InvalidInput(
            "a token name is 1 to 100 letters, digits, '.', '_' or '-', starting with a "
            f"letter or digit (got {name[:100]!r})"
        )
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future")
    token = new_token()
    row = ApiToken(
        scope=scope,
        token_hash=hash_token(token),
        created_at=now,
        expires_at=expires_at,
    )
    row.name = name or f"token-{row.token_hash[:8]}"
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"a token named {row.name!r} exists already") from None
    return Issued(row=row, token=token)


def list_tokens(*, session: Session) -> list[ApiToken]:
    """Every token, newest first (revoked and expired ones included)."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())))


def get_token(*, session: Session, ref: str) -> ApiToken:
    """A token by id or by name; NotFound otherwise."""
    row = (
        session.get(ApiToken, ref)
        or session.scalars(select(ApiToken).where(ApiToken.name == ref)).first()
    )
    if row is None:
        raise NotFound(f"no token with id or name {ref!r}")
    return row


def revoke_token(*, session: Session, ref: str, now: datetime) -> ApiToken:
    """Revoke a token by id or name (revoking twice keeps the first time); the caller commits."""
    row = get_token(session=session, ref=ref)
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def find_valid(*, session: Session, token: str, now: datetime) -> ApiToken | None:
    """The live token row (not revoked, not expired) matching `token`, or None.

    Marks it used when it was last marked over a minute ago (and commits that).
    """
    digest = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or not secrets.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or row.last_used_at <= now - LAST_USED_EVERY:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .where(
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY)
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    return row


def state(row: ApiToken, *, now: datetime) -> str:
    """`active`, `revoked` or `expired`."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"
