"""Blob storage for uploads and artifacts, behind one small interface over fsspec.

The base is an fsspec URL (`TRIOPS_ARTIFACTS_URL`, `TRIOPS_FILES_URL`); a plain local
folder by default, or `s3://bucket/prefix` on an object store shared by several hosts
(s3fs; `TRIOPS_S3_*` settings or the standard AWS variables). Keys are made of checked
name segments, so nothing a user sends can point outside the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from core.errors import InvalidInput, NotFound, PayloadTooLarge, TriopsError

if TYPE_CHECKING:
    from core.config import Settings

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
CHUNK_BYTES = 1024 * 1024


def check_segment(name: str) -> str:
    """A file or folder name we accept: letters, digits, `._-`, not starting with a dot."""
    if not _SEGMENT.match(name) or ".." in name:
        raise InvalidInput(
            f"invalid name {name!r}: use letters, digits, '.', '_' and '-' (no leading dot)"
        )
    return name


class ChecksumMismatch(TriopsError):
    """A stored file does not match the sha256 recorded when it was written.

    Not retried (the file will not heal by waiting); the API answers 503.
    """

    status_code = 503


def confine(root: Path, path: Path) -> Path:
    """`path` resolved (symlinks followed), refused unless it stays under `root`.

    Checked names cannot hold `..` or a leading `/`, but a symlink placed in a local
    store could still point anywhere: the resolved path is what decides."""
    real_root = root.resolve()
    real = path.resolve()
    if not real.is_relative_to(real_root):
        raise InvalidInput(
            f"{path.name!r} leads outside its store (through a symbolic link); refusing it"
        )
    return real


@dataclass(frozen=True)
class BlobInfo:
    url: str
    size: int
    sha256: str


class BlobStore:
    """Write-once blobs under a base URL, addressed by (folder, name)."""

    def __init__(self, base_url: str, **storage_options: Any) -> None:
        self.base_url = base_url.rstrip("/")
        fs, root = fsspec.core.url_to_fs(self.base_url, **storage_options)
        self.fs = fs
        self.root = root.rstrip("/")

    def _path(self, *segments: str) -> str:
        path = "/".join([self.root, *(check_segment(s) for s in segments)])
        if isinstance(self.fs, LocalFileSystem):
            confine(Path(self.root), Path(path))
        return path

    def url_for(self, *segments: str) -> str:
        return "/".join([self.base_url, *(check_segment(s) for s in segments)])

    def put_chunks(
        self, segments: tuple[str, ...], chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> BlobInfo:
        """Stream chunks into a blob, hashing as we go; over `max_bytes` nothing is kept."""
        path = self._path(*segments)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = path + ".partial"
        digest = hashlib.sha256()
        size = 0
        try:
            with self.fs.open(tmp, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(
                            f"upload exceeds the limit of {max_bytes} bytes",
                            details={"max_bytes": max_bytes},
                        )
                    digest.update(chunk)
                    out.write(chunk)
            self.fs.mv(tmp, path)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise
        return BlobInfo(url=self.url_for(*segments), size=size, sha256=digest.hexdigest())

    def put_bytes(self, segments: tuple[str, ...], data: bytes) -> BlobInfo:
        return self.put_chunks(segments, [data])

    def put_file(self, segments: tuple[str, ...], local_path: str) -> BlobInfo:
        with open(local_path, "rb") as src:
            return self.put_chunks(segments, iter(lambda: src.read(CHUNK_BYTES), b""))

    def _path_of_url(self, url: str) -> str:
        if not url.startswith(self.base_url + "/"):
            raise NotFound(f"blob {url!r} is not in this store")
        segments = url[len(self.base_url) + 1 :].split("/")
        return self._path(*segments)

    def open(self, url: str) -> IO[Any]:
        """Open a blob this store wrote, for reading in binary."""
        path = self._path_of_url(url)
        if not self.fs.exists(path):
            raise NotFound(f"blob {url!r} is missing from the store")
        return self.fs.open(path, "rb")

    def local_path(self, url: str) -> str | None:
        """The blob's local path when the store is a local folder, else None."""
        if isinstance(self.fs, LocalFileSystem):
            return self._path_of_url(url)
        return None

    def names(self, folder: str) -> list[str]:
        """The blobs in a folder, by name; unfinished writes (`.partial`) left out."""
        path = self._path(folder)
        try:
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(
            name
            for name in (str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries)
            if not name.endswith(".partial")
        )

    def sha256_of(self, url: str) -> str:
        digest = hashlib.sha256()
        with self.open(url) as src:
            for chunk in iter(lambda: src.read(CHUNK_BYTES), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def verify(self, url: str, sha256: str, *, what: str = "stored file") -> None:
        """Raise `ChecksumMismatch` unless the blob's bytes hash to `sha256`.

        Read in chunks (constant memory); a job calls it before it uses an upload or a
        dataset, so a file changed or damaged on disk fails the job instead of feeding
        it wrong data."""
        actual = self.sha256_of(url)
        if actual != sha256:
            raise ChecksumMismatch(
                f"{what} does not match its recorded sha256 (expected {sha256[:12]}..., "
                f"found {actual[:12]}...): it was changed or damaged in storage; "
                "refusing to use it",
                details={"expected": sha256, "actual": actual},
            )

    def open_verified(self, url: str, sha256: str, *, what: str = "stored file") -> IO[Any]:
        """`open`, after `verify`."""
        self.verify(url, sha256, what=what)
        return self.open(url)

    def delete_folder(self, folder: str) -> None:
        path = self._path(folder)
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)


def storage_options(settings: Settings, url: str) -> dict[str, Any]:
    """The fsspec options for a store URL: for `s3://`, the endpoint and credentials
    of the settings (unset ones fall back to the standard AWS variables and files)."""
    if fsspec.core.split_protocol(url)[0] not in ("s3", "s3a"):
        return {}
    options: dict[str, Any] = {
        # Several hosts write to the same bucket: a cached listing on one would hide
        # blobs another has written since, so every lookup asks the store.
        "use_listings_cache": False,
    }
    if settings.s3_endpoint_url:
        options["client_kwargs"] = {"endpoint_url": settings.s3_endpoint_url}
    if settings.s3_access_key_id:
        options["key"] = settings.s3_access_key_id
    if settings.s3_secret_access_key is not None:
        options["secret"] = settings.s3_secret_access_key.get_secret_value()
    return options


def artifact_store(settings: Settings) -> BlobStore:
    """Where jobs keep their artifacts, dataset versions and models (`TRIOPS_ARTIFACTS_URL`)."""
    return BlobStore(settings.artifacts_url, **storage_options(settings, settings.artifacts_url))


def file_store(settings: Settings) -> BlobStore:
    """Where uploads are kept (`TRIOPS_FILES_URL`)."""
    return BlobStore(settings.files_url, **storage_options(settings, settings.files_url))
