"""Two hosts sharing the work through an object store: no local folder in common.

Host A runs the API only; host B runs the workers of the pools the test uses (mlops,
dataops) and an API of its own. Each
has its own `TRIOPS_HOME`; they share the database, a Redis server of this test's own and
an S3 bucket on a real S3-compatible server (moto, on loopback). A file uploaded through
A is read by B's workers; what B's jobs write is downloaded through A, byte for byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer

from bench.stack import Proc, free_port
from core.config import Settings
from tests.conftest import skip_or_fail
from tests.integration.conftest import TOKEN, spawn
from tests.object_store import S3Server
from workers import embedded_redis
from workers.client import TriopsClient

pytestmark = pytest.mark.integration

POOLS = ("mlops", "dataops")


@dataclass
class TwoHosts:
    api_a: str
    api_b: str
    home_a: Path
    home_b: Path
    bucket: str
    s3: S3Server
    procs: dict[str, Proc]

    def client_a(self) -> TriopsClient:
        return TriopsClient(self.api_a, TOKEN)


@pytest.fixture(scope="module")
def two_hosts(
    settings: Settings, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoHosts]:
    logs = tmp_path_factory.mktemp("two-hosts-logs")
    # The shared Redis: a server of this test's own, so no other worker of the suite
    # takes these jobs (its socket stands for a network address both hosts reach).
    redis_dir = tmp_path_factory.mktemp("two-hosts-redis")
    try:
        redis = embedded_redis.start(redis_dir, redis_dir / "redis.sock")
    except embedded_redis.EmbeddedRedisError as exc:
        skip_or_fail(f"no redis-server for the two-host test: {exc}")
    bucket = s3_server.new_bucket()
    shared = {
        **os.environ,
        **settings.process_env(),
        **s3_server.env(),
        "TRIOPS_REDIS_URL": f"redis+socket://{redis_dir / 'redis.sock'}",
        "TRIOPS_ARTIFACTS_URL": f"s3://{bucket}/artifacts",
        "TRIOPS_FILES_URL": f"s3://{bucket}/files",
        "TRIOPS_AIOPS_CONCURRENCY": "1",
        "TRIOPS_DATAOPS_CONCURRENCY": "1",
    }
    homes = {host: Path(tmp_path_factory.mktemp(f"host-{host}")) for host in "ab"}
    ports = {host: free_port() for host in "ab"}
    env = {
        host: {
            **shared,
            "TRIOPS_HOME": str(homes[host]),
            "TRIOPS_DATA_DIR": str(homes[host] / "data"),
            "TRIOPS_API_PORT": str(ports[host]),
        }
        for host in "ab"
    }
    procs = {
        "a-api": spawn("a-api", ["api"], env["a"], logs),
        "b-api": spawn("b-api", ["api"], env["b"], logs),
        **{f"b-{pool}": spawn(f"b-{pool}", ["worker", pool], env["b"], logs) for pool in POOLS},
    }
    hosts = TwoHosts(
        api_a=f"http://127.0.0.1:{ports['a']}",
        api_b=f"http://127.0.0.1:{ports['b']}",
        home_a=homes["a"],
        home_b=homes["b"],
        bucket=bucket,
        s3=s3_server,
        procs=procs,
    )
    try:
        wait_for_workers(hosts.api_b, procs)
        wait_for_workers(hosts.api_a, procs)  # A sees B's workers through the shared Redis
        yield hosts
    finally:
        for proc in procs.values():  # every process told at once, then each awaited
            if proc.process.poll() is None:
                proc.process.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.stop()
        embedded_redis.stop(redis)


def wait_for_workers(api_url: str, procs: dict[str, Proc], timeout_s: float = 90.0) -> None:
    """Until the API's health shows its database and broker up and a worker in each pool
    of `POOLS` (the aiops pool is left out: no job here needs it)."""
    deadline = time.monotonic() + timeout_s
    body: object = None
    while time.monotonic() < deadline:
        for proc in procs.values():
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, ValueError):
            body = httpx.get(f"{api_url}/api/v1/health", timeout=5).json()
            if (
                isinstance(body, dict)
                and body["database"]["ok"]
                and body["broker"]["ok"]
                and all(body["workers"].get(pool) for pool in POOLS)
            ):
                return
        time.sleep(0.5)
    raise RuntimeError(f"{api_url}: workers of {POOLS} not seen after {timeout_s} s: {body}")


def run(client: TriopsClient, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    done = client.wait(client.submit(kind, params)["id"], timeout_s=60)
    assert done["status"] == "succeeded", done["error"]
    pool = kind.split(".")[0]
    assert done["worker"].startswith(f"{pool}@")
    return done


def files_under(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()}


def test_a_job_run_on_one_host_is_served_by_another_through_the_object_store(
    two_hosts: TwoHosts, tmp_path: Path
) -> None:
    frame = load_breast_cancer(as_frame=True).frame
    csv = tmp_path / "cancer.csv"
    frame.to_csv(csv, index=False)
    raw = two_hosts.s3.filesystem()

    with two_hosts.client_a() as client:
        uploaded = client.upload(csv)
        assert uploaded["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
        # The upload went to the bucket, not to A's disk.
        stored = f"{two_hosts.bucket}/files/{uploaded['id']}"
        assert raw.ls(stored, detail=False)

        # B's mlops worker reads the upload from the store (streamed, checksum verified).
        trained = run(
            client,
            "mlops.train",
            {
                "file_id": uploaded["id"],
                "target": "target",
                "model": "two-hosts",
                "estimator": "logistic_regression",
            },
        )
        assert trained["result"]["metrics"]["accuracy"] > 0.9

        # Its artifacts, listed and downloaded through A, are the bytes B wrote to S3.
        listed = client.http.get(f"/jobs/{trained['id']}/artifacts").json()
        names = {artifact["name"] for artifact in listed}
        assert "model.joblib" in names
        for artifact in listed:
            response = client.http.get(f"/jobs/{trained['id']}/artifacts/{artifact['name']}")
            assert response.status_code == 200, response.text
            body = response.content
            assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
            assert len(body) == artifact["size"]
            key = f"{two_hosts.bucket}/artifacts/{trained['id']}/{artifact['name']}"
            assert raw.cat(key) == body

        # A serves the model B trained: loaded from the store, sha256 checked first.
        records = frame.drop(columns=["target"]).head(3).to_dict(orient="records")
        answer = client.http.post(
            "/models/two-hosts/predict", params={"version": 1}, json={"records": records}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == frame["target"].head(3).tolist()

        # B's dataops worker versions the upload as a dataset; A downloads the version.
        run(
            client,
            "dataops.etl",
            {"source": {"file_id": uploaded["id"]}, "target": {"dataset": "two-hosts-cancer"}},
        )
        version = client.http.get("/datasets/two-hosts-cancer/versions/1").json()
        download = client.http.get("/datasets/two-hosts-cancer/versions/1/download")
        assert download.status_code == 200, download.text
        assert hashlib.sha256(download.content).hexdigest() == version["sha256"]
        parquet = tmp_path / "cancer.parquet"
        parquet.write_bytes(download.content)
        # No casts asked for: the version holds the CSV's text, every row and column.
        pd.testing.assert_frame_equal(
            pd.read_parquet(parquet).astype(str), pd.read_csv(csv, dtype=str), check_dtype=False
        )

        # Split in parts, each part reads its byte range of the upload straight from the
        # store (ranged reads), and the commit gathers the parts' files from the store.
        split = run(
            client,
            "dataops.etl",
            {
                "source": {"file_id": uploaded["id"]},
                "target": {"dataset": "two-hosts-cancer-split"},
                "parallel": 2,
            },
        )
        assert split["result"]["rows"]["loaded"] == len(frame)
        joined = client.http.get("/datasets/two-hosts-cancer-split/versions/1/download")
        assert joined.status_code == 200, joined.text
        parquet.write_bytes(joined.content)
        pd.testing.assert_frame_equal(
            pd.read_parquet(parquet).astype(str), pd.read_csv(csv, dtype=str), check_dtype=False
        )

    # Nothing was shared on local disk: neither host keeps an upload, an artifact or a
    # dataset, and B's temporary copies are gone.
    for home in (two_hosts.home_a, two_hosts.home_b):
        kept = files_under(home)
        assert not any(name.startswith(("files/", "artifacts/", "tmp/")) for name in kept), kept
        assert not any(name.endswith((".csv", ".joblib", ".parquet")) for name in kept), kept
