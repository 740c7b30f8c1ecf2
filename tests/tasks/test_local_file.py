"""A job that needs an upload as a local file gets one from a remote store: streamed into
`$TRIOPS_HOME/tmp`, checked against the sha256 recorded at upload, removed afterwards."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core import files
from core.config import Settings
from core.db import session_scope
from core.kinds import CATALOG
from core.storage import ChecksumMismatch, file_store
from tasks.base import JobContext
from tests.object_store import S3Server

BODY = b"a,b\n" + b"1,2\n" * 50_000


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3Server, tmp_path: Path) -> Settings:
    bucket = s3_server.new_bucket()
    return Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_DATABASE_URL": settings.database_url,
            "TRIOPS_REDIS_URL": settings.redis_url,
            "TRIOPS_FILES_URL": f"s3://{bucket}/files",
            "TRIOPS_ARTIFACTS_URL": f"s3://{bucket}/artifacts",
            **s3_server.env(),
        }
    )


def upload(settings: Settings) -> tuple[str, str]:
    file_id = uuid.uuid4().hex
    info = file_store(settings).put_bytes((file_id, "data.csv"), BODY)
    with session_scope(settings) as session:
        files.create_file(
            session=session, file_id=file_id, name="data.csv", info=info, media_type="text/csv"
        )
    return file_id, info.url


def context(settings: Settings) -> JobContext:
    return JobContext(
        job_id=uuid.uuid4().hex,
        kind=CATALOG["system.echo"],
        attempt=1,
        worker="test",
        settings=settings,
    )


def test_an_upload_on_s3_is_copied_under_triops_home_and_removed_after_use(
    s3_settings: Settings,
) -> None:
    file_id, _ = upload(s3_settings)
    with context(s3_settings).local_file(file_id) as path:
        assert path.is_relative_to(s3_settings.scratch_dir)
        assert path.read_bytes() == BODY
    assert not path.exists()
    assert list(s3_settings.scratch_dir.iterdir()) == []


def test_an_upload_changed_in_the_store_is_refused_and_no_copy_is_left(
    s3_settings: Settings, s3_server: S3Server
) -> None:
    file_id, url = upload(s3_settings)
    s3_server.filesystem().pipe(url.removeprefix("s3://"), BODY.replace(b"1,2", b"9,9"))
    with (
        pytest.raises(ChecksumMismatch, match="does not match its recorded sha256"),
        context(s3_settings).local_file(file_id),
    ):
        pytest.fail("a changed upload was handed to the job")
    assert list(s3_settings.scratch_dir.iterdir()) == []
