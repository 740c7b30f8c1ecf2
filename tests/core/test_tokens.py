"""Scoped API tokens: expiry parsing (a table, no database), and the token lifecycle on
the suite's database: only the hash is stored, revoked and expired tokens stop working,
last use is written at most once a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import tokens
from core.config import Settings
from core.db import session_scope
from core.errors import Conflict, InvalidInput, NotFound
from core.tables import ApiToken
from tests.conftest import clear_tables

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW + timedelta(minutes=90)),
        ("12h", NOW + timedelta(hours=12)),
        ("30d", NOW + timedelta(days=30)),
        ("2w", NOW + timedelta(weeks=2)),
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T08:30:00", datetime(2027, 1, 31, 8, 30, tzinfo=UTC)),
        ("2027-01-31T10:30:00+02:00", datetime(2027, 1, 31, 8, 30, tzinfo=UTC)),
    ],
)
def test_an_expiry_is_a_duration_from_now_or_an_iso_date(text: str, expected: datetime) -> None:
    assert tokens.parse_expiry(text, now=NOW) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0d", "positive"),
        ("30 days", "neither a duration"),
        ("soon", "neither a duration"),
        ("2026-12-01", "not in the future"),
    ],
)
def test_a_bad_expiry_says_what_was_wrong(text: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        tokens.parse_expiry(text, now=NOW)


@pytest.fixture
def db(settings: Settings) -> Settings:
    clear_tables(settings)
    return settings


def test_only_the_hash_of_a_token_is_stored(db: Settings) -> None:
    with session_scope(db) as session:
        issued = tokens.create_token(session=session, scope="read", name="ci", now=NOW)
    assert issued.token.startswith("trs_") and len(issued.token) >= 40
    with session_scope(db) as session:
        row = session.scalars(select(ApiToken)).one()
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
        assert all(issued.token not in value for value in stored)
        assert row.token_hash == tokens.hash_token(issued.token)
        assert (row.name, row.scope, row.expires_at, row.revoked_at) == ("ci", "read", None, None)


def test_a_token_works_until_revoked_by_name_or_id(db: Settings) -> None:
    with session_scope(db) as session:
        a = tokens.create_token(session=session, scope="submit", name="deployer", now=NOW)
        b = tokens.create_token(session=session, scope="read", now=NOW)
        b_id = b.row.id
    with session_scope(db) as session:
        found = tokens.find_valid(session=session, token=a.token, now=NOW)
        assert found is not None and found.scope == "submit"
        assert tokens.find_valid(session=session, token=a.token + "x", now=NOW) is None
        tokens.revoke_token(session=session, ref="deployer", now=NOW)
        tokens.revoke_token(session=session, ref=b_id, now=NOW)
    with session_scope(db) as session:
        assert tokens.find_valid(session=session, token=a.token, now=NOW) is None
        assert tokens.find_valid(session=session, token=b.token, now=NOW) is None
        assert {tokens.state(r, now=NOW) for r in tokens.list_tokens(session=session)} == {
            "revoked"
        }
        with pytest.raises(NotFound, match="nobody"):
            tokens.revoke_token(session=session, ref="nobody", now=NOW)


def test_an_expired_token_stops_working(db: Settings) -> None:
    with session_scope(db) as session:
        issued = tokens.create_token(
            session=session, scope="read", now=NOW, expires_at=NOW + timedelta(hours=1)
        )
    with session_scope(db) as session:
        assert tokens.find_valid(session=session, token=issued.token, now=NOW) is not None
        later = NOW + timedelta(hours=1)
        assert tokens.find_valid(session=session, token=issued.token, now=later) is None
        assert tokens.state(tokens.list_tokens(session=session)[0], now=later) == "expired"


def test_last_use_is_written_at_most_once_a_minute(db: Settings) -> None:
    with session_scope(db) as session:
        issued = tokens.create_token(session=session, scope="read", now=NOW)

    def last_used() -> datetime | None:
        with session_scope(db) as session:
            return session.scalars(select(ApiToken.last_used_at)).one()

    for offset_s, expected_s in [(0, 0), (30, 0), (59, 0), (61, 61), (100, 61), (122, 122)]:
        with session_scope(db) as session:
            tokens.find_valid(
                session=session, token=issued.token, now=NOW + timedelta(seconds=offset_s)
            )
        assert last_used() == NOW + timedelta(seconds=expected_s), offset_s


def test_a_token_name_is_unique_and_well_formed_and_the_scope_known(db: Settings) -> None:
    with session_scope(db) as session:
        tokens.create_token(session=session, scope="read", name="ci", now=NOW)
    with session_scope(db) as session, pytest.raises(Conflict, match="'ci' exists"):
        tokens.create_token(session=session, scope="read", name="ci", now=NOW)
    with session_scope(db) as session:
        with pytest.raises(InvalidInput, match="token name"):
            tokens.create_token(session=session, scope="read", name="has space", now=NOW)
        with pytest.raises(InvalidInput, match="scope must be one of read, submit, admin"):
            tokens.create_token(session=session, scope="root", now=NOW)
