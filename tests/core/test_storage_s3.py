"""The blob store on a real S3-compatible server (moto, on loopback): what a local folder
does, an `s3://` bucket does too."""

from __future__ import annotations

import hashlib

import pytest

from core.config import Settings
from core.errors import InvalidInput, NotFound, PayloadTooLarge
from core.storage import BlobStore, artifact_store, file_store, storage_options
from tests.object_store import S3Server


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
def s3_settings(s3_server: S3Server, bucket: str, tmp_path: object) -> Settings:
    return Settings.from_env(
        {
            "TRIOPS_HOME": str(tmp_path),
            "TRIOPS_ARTIFACTS_URL": f"s3://{bucket}/artifacts",
            "TRIOPS_FILES_URL": f"s3://{bucket}/files",
            **s3_server.env(),
        }
    )


def test_the_settings_give_s3_stores_their_endpoint_and_credentials(
    s3_settings: Settings, s3_server: S3Server
) -> None:
    options = storage_options(s3_settings, s3_settings.artifacts_url)
    assert options["client_kwargs"] == {"endpoint_url": s3_server.endpoint_url}
    assert options["key"] == s3_server.env()["TRIOPS_S3_ACCESS_KEY_ID"]
    assert options["secret"] == s3_server.env()["TRIOPS_S3_SECRET_ACCESS_KEY"]
    assert options["use_listings_cache"] is False
    # A local folder takes no S3 options, whatever the settings say.
    assert storage_options(s3_settings, str(s3_settings.home / "artifacts")) == {}


def test_the_s3_settings_reach_child_processes(s3_settings: Settings) -> None:
    env = s3_settings.process_env()
    again = Settings.from_env(env)
    assert again.s3_endpoint_url == s3_settings.s3_endpoint_url
    assert again.s3_access_key_id == s3_settings.s3_access_key_id
    assert again.s3_secret_access_key == s3_settings.s3_secret_access_key


def test_a_blob_is_put_read_listed_and_deleted_on_s3(
    s3_settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    store = artifact_store(s3_settings)
    payload = [b"a,b\n", b"1,2\n" * 1000]
    info = store.put_chunks(("job-1", "out.csv"), payload)
    body = b"".join(payload)
    assert info.url == f"s3://{bucket}/artifacts/job-1/out.csv"
    assert info.size == len(body)
    assert info.sha256 == hashlib.sha256(body).hexdigest()
    store.put_bytes(("job-1", "model.joblib"), b"model")

    # The object is really in the bucket, under the store's prefix (no `.partial` left).
    raw = s3_server.filesystem()
    assert raw.cat(f"{bucket}/artifacts/job-1/out.csv") == body
    assert sorted(raw.ls(f"{bucket}/artifacts/job-1", detail=False)) == [
        f"{bucket}/artifacts/job-1/model.joblib",
        f"{bucket}/artifacts/job-1/out.csv",
    ]

    with store.open(info.url) as handle:
        assert handle.read() == body
    assert store.sha256_of(info.url) == info.sha256
    assert store.names("job-1") == ["model.joblib", "out.csv"]
    assert store.local_path(info.url) is None  # no local path: readers stream

    store.delete_folder("job-1")
    assert store.names("job-1") == []
    assert not raw.exists(f"{bucket}/artifacts/job-1/out.csv")
    with pytest.raises(NotFound):
        store.open(info.url)


def test_a_store_sees_blobs_another_process_wrote_after_it_listed(
    s3_settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    store = file_store(s3_settings)
    assert store.names("upload-1") == []
    # Another host writes through its own client.
    s3_server.filesystem().pipe(f"{bucket}/files/upload-1/data.csv", b"x,y\n")
    assert store.names("upload-1") == ["data.csv"]
    with store.open(f"s3://{bucket}/files/upload-1/data.csv") as handle:
        assert handle.read() == b"x,y\n"


def test_an_upload_over_the_limit_leaves_nothing_in_the_bucket(
    s3_settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    store = file_store(s3_settings)
    with pytest.raises(PayloadTooLarge):
        store.put_chunks(("f", "big"), [b"x" * 600, b"x" * 600], max_bytes=1000)
    assert s3_server.filesystem().find(bucket) == []


@pytest.mark.parametrize("name", ["..", "../x", "a/b", ".hidden", "", "x" * 300])
def test_names_that_could_leave_the_s3_store_are_refused(
    s3_settings: Settings, s3_server: S3Server, bucket: str, name: str
) -> None:
    with pytest.raises(InvalidInput):
        artifact_store(s3_settings).put_bytes(("job", name), b"x")
    assert s3_server.filesystem().find(bucket) == []


def test_urls_outside_the_s3_store_are_not_opened(
    s3_settings: Settings, s3_server: S3Server, bucket: str
) -> None:
    other = s3_server.new_bucket()
    s3_server.filesystem().pipe(f"{other}/artifacts/job/secret", b"not yours")
    s3_server.filesystem().pipe(f"{bucket}/files/job/upload", b"an upload")
    store = artifact_store(s3_settings)
    with pytest.raises(NotFound):
        store.open(f"s3://{other}/artifacts/job/secret")
    with pytest.raises(NotFound):
        store.open(f"s3://{bucket}/files/job/upload")  # the files store, not this one
    with pytest.raises(InvalidInput):
        store.open(f"s3://{bucket}/artifacts/../files/job/upload")
    with pytest.raises(NotFound):
        store.open(f"s3://{bucket}/artifacts/job/missing")


def test_a_store_url_names_its_bucket_and_prefix_only(s3_server: S3Server) -> None:
    options = {
        "key": s3_server.env()["TRIOPS_S3_ACCESS_KEY_ID"],
        "secret": s3_server.env()["TRIOPS_S3_SECRET_ACCESS_KEY"],
        "client_kwargs": {"endpoint_url": s3_server.endpoint_url},
    }
    store = BlobStore("s3://some-bucket/a/prefix/", **options)
    assert store.url_for("job", "x.csv") == "s3://some-bucket/a/prefix/job/x.csv"
