"""Keyset pagination on (created_at, id), newest first, with an opaque cursor."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.errors import InvalidInput

MAX_PAGE = 500


def encode_cursor(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, row_id = json.loads(raw)
        return datetime.fromisoformat(created), str(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("invalid cursor", details={"cursor": cursor}) from exc


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")


def fetch_page(
    session: Session,
    query: Select[Any],
    cursor: str | None,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of `query`, newest first, and the cursor of the next page (None at the end)."""
    check_limit(limit)
    rows = list(session.scalars(after_cursor(query, cursor, created_at, row_id, limit)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)


def after_cursor(
    query: Select[Any],
    cursor: str | None,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[str],
    limit: int,
) -> Select[Any]:
    """`query` from just after `cursor`, newest first, one row more than `limit`."""
    if cursor:
        created, last_id = decode_cursor(cursor)
        query = query.where(
            or_(created_at < created, and_(created_at == created, row_id < last_id))
        )
    return query.order_by(created_at.desc(), row_id.desc()).limit(limit + 1)
