"""Repository functions for uploaded files.

Session first, keyword-only arguments; callers own the transaction.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.errors import NotFound
from core.storage import BlobInfo
from core.tables import StoredFile


def create_file(
    *, session: Session, file_id: str, name: str, info: BlobInfo, media_type: str
) -> StoredFile:
    stored = StoredFile(
        id=file_id,
        name=name,
        size=info.size,
        sha256=info.sha256,
        media_type=media_type,
        url=info.url,
    )
    session.add(stored)
    session.flush()
    return stored


def get_file(*, session: Session, file_id: str) -> StoredFile:
    stored = session.get(StoredFile, file_id)
    if stored is None:
        raise NotFound(f"file {file_id} not found")
    return stored
