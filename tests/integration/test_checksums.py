"""Uploads and dataset versions are checked against their recorded sha256 before a job
uses them: a file changed on disk fails the job with a plain reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import dataset_versions, files
from core.db import session_scope
from core.storage import BlobStore
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def _corrupt(path: str | None) -> None:
    assert path is not None, "the suite's stores are local folders"
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    Path(path).write_bytes(bytes(data))


def test_an_upload_changed_on_disk_fails_the_job_that_reads_it(
    stack: Stack, tmp_path: Path
) -> None:
    table = tmp_path / "people.csv"
    table.write_text("id,name\n1,ada\n2,grace\n3,linus\n")
    with stack.client() as client:
        uploaded = client.upload(table)
        good = client.wait(client.submit("dataops.profile", {"file_id": uploaded["id"]})["id"])
        assert good["status"] == "succeeded", good["error"]
        with session_scope(stack.settings) as session:
            url = files.get_file(session=session, file_id=uploaded["id"]).url
        _corrupt(BlobStore(stack.settings.files_url).local_path(url))
        bad = client.wait(client.submit("dataops.profile", {"file_id": uploaded["id"]})["id"])
    assert bad["status"] == "failed"
    assert bad["error"]["type"] == "ChecksumMismatch"
    assert f"upload {uploaded['id']} (people.csv)" in bad["error"]["message"]
    assert "does not match its recorded sha256" in bad["error"]["message"]
    assert bad["attempts"] == 1  # not retried: the file will not heal


def test_a_dataset_version_changed_on_disk_fails_the_job_that_reads_it(
    stack: Stack, tmp_path: Path
) -> None:
    table = tmp_path / "cities.csv"
    table.write_text("city,people\nlyon,520000\nnantes,320000\n")
    with stack.client() as client:
        made = client.wait(
            client.submit(
                "dataops.etl",
                {
                    "source": {"file_id": client.upload(table)["id"]},
                    "target": {"dataset": "cities-checked"},
                },
            )["id"],
            timeout_s=90,
        )
        assert made["status"] == "succeeded", made["error"]
        version = made["result"]["dataset"]["version"]
        with session_scope(stack.settings) as session:
            row = dataset_versions.get_version(
                session=session, name="cities-checked", version=version
            )
            url = row.url
        _corrupt(BlobStore(stack.settings.artifacts_url).local_path(url))
        ref = f"cities-checked@{version}"
        bad = client.wait(client.submit("dataops.profile", {"dataset": ref})["id"])
    assert bad["status"] == "failed"
    assert bad["error"]["type"] == "ChecksumMismatch"
    assert f"dataset {ref} does not match its recorded sha256" in bad["error"]["message"]
