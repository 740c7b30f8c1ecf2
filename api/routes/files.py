"""`POST /api/v1/files`: uploads for jobs that take a `file_id`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request, UploadFile, status

from api.deps import SessionDep, SettingsDep, require
from api.schemas.jobs import FileOut
from core import files
from core.errors import InvalidInput, PayloadTooLarge
from core.storage import CHUNK_BYTES, file_store
from core.tables import StoredFile

router = APIRouter(tags=["files"])


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(CHUNK_BYTES):
        yield chunk


@router.post(
    "/files",
    dependencies=[require("submit")],
    response_model=FileOut,
    status_code=status.HTTP_201_CREATED,
)
def upload_file(
    request: Request, file: UploadFile, session: SessionDep, settings: SettingsDep
) -> StoredFile:
    """Store an upload (multipart field `file`); returns its id, size and sha256."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes + 64 * 1024:
        raise PayloadTooLarge(f"upload exceeds the limit of {settings.max_upload_bytes} bytes")
    name = (file.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:255] or "upload"
    if "\x00" in name:
        raise InvalidInput("file name contains a NUL byte")
    file_id = str(uuid.uuid4())
    info = file_store(settings).put_chunks(
        (file_id, "data"), _chunks(file), max_bytes=settings.max_upload_bytes
    )
    stored = files.create_file(
        session=session,
        file_id=file_id,
        name=name,
        info=info,
        media_type=file.content_type or "application/octet-stream",
    )
    session.commit()
    return stored
