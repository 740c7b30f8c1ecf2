from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound, PayloadTooLarge
from core.storage import BlobStore, ChecksumMismatch


@pytest.mark.parametrize("name", ["..", "../x", "a/b", ".hidden", "", "a\x00b", "x" * 300])
def test_names_that_could_leave_the_store_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        BlobStore(str(tmp_path)).put_bytes(("job", name), b"x")


def test_a_blob_is_written_with_its_size_and_sha256_and_read_back(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))
    info = store.put_chunks(("job-1", "out.csv"), [b"a,b\n", b"1,2\n"])
    assert info.size == 8
    assert info.sha256 == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    with store.open(info.url) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    assert store.sha256_of(info.url) == info.sha256


def test_a_stream_over_the_limit_keeps_nothing(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))
    with pytest.raises(PayloadTooLarge):
        store.put_chunks(("f", "big"), [b"x" * 600, b"x" * 600], max_bytes=1000)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_url_from_outside_the_store_is_not_opened(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "store"))
    with pytest.raises(NotFound):
        store.open("/etc/passwd")
    with pytest.raises(InvalidInput):
        store.open(f"{tmp_path / 'store'}/../../etc/passwd")


def test_a_folder_lists_its_finished_blobs_only(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))
    assert store.names("job-1") == []
    store.put_bytes(("job-1", "b.csv"), b"b")
    store.put_bytes(("job-1", "a.csv"), b"a")
    (tmp_path / "job-1" / "c.csv.partial").write_bytes(b"half")
    assert store.names("job-1") == ["a.csv", "b.csv"]


def test_a_blob_changed_in_storage_fails_verification_and_is_not_opened(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "store"))
    info = store.put_bytes(("f", "data.csv"), b"a,b\n1,2\n")
    with store.open_verified(info.url, info.sha256) as handle:
        assert handle.read() == b"a,b\n1,2\n"
    (tmp_path / "store" / "f" / "data.csv").write_bytes(b"a,b\n1,3\n")
    with pytest.raises(ChecksumMismatch, match="does not match its recorded sha256"):
        store.open_verified(info.url, info.sha256, what="upload x")


def test_a_symlink_in_the_store_pointing_outside_is_neither_read_nor_written(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("not yours")
    root = tmp_path / "store"
    store = BlobStore(str(root))
    store.put_bytes(("f", "ok.txt"), b"fine")
    (root / "f" / "link.txt").symlink_to(secret)
    (root / "away").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInput, match="leads outside its store"):
        store.open(store.url_for("f", "link.txt"))
    with pytest.raises(InvalidInput, match="leads outside its store"):
        store.put_bytes(("away", "new.txt"), b"x")
    with pytest.raises(InvalidInput, match="leads outside its store"):
        store.delete_folder("away")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert secret.read_text() == "not yours"
