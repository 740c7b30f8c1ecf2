"""Streaming a stored blob to the client, with its checksum in a header."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.responses import StreamingResponse

from core.storage import CHUNK_BYTES, BlobStore


def blob_response(
    store: BlobStore, url: str, *, media_type: str, filename: str, sha256: str, size: int | None
) -> StreamingResponse:
    handle = store.open(url)

    def stream() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Checksum-SHA256": sha256,
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(stream(), media_type=media_type, headers=headers)
