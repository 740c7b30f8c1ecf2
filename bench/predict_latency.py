"""Online prediction latency through the HTTP API, measured with a load generator on loopback.

Run: ``.venv/bin/python -m bench.predict_latency``. Starts the API (uvicorn, one process)
on a temporary SQLite home, registers a model (breast_cancer, random forest, 100 trees)
and deploys it, then sends one-record predictions: sequentially, and from 4 concurrent
clients. Reports p50/p99 client-side latency next to the bare in-process
`pipeline.predict` of the same record (the floor). Writes ``var/bench/predict_latency.json``.
"""

from __future__ import annotations

import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import httpx
import joblib

from bench.data import REPO_ROOT
from core import registry
from core.config import Settings
from core.db import dispose_engines, session_scope
from core.migrate import upgrade
from core.storage import artifact_store
from core.tables import utcnow
from domain.mlops.evaluation import predict
from domain.mlops.training import train
from domain.mlops.training_data import load_bundled

OUT = REPO_ROOT / "var" / "bench" / "predict_latency.json"
TOKEN = "bench-token-0123456789"  # noqa: S105 - a throwaway local server
REQUESTS = 1000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def _register(settings: Settings) -> tuple[dict[str, Any], Any]:
    data = load_bundled("breast_cancer")
    trained = train(data, estimator="random_forest", random_state=0)
    buffer = io.BytesIO()
    joblib.dump(trained.pipeline, buffer)
    info = artifact_store(settings).put_bytes(("bench", "model.joblib"), buffer.getvalue())
    with session_scope(settings) as session:
        version = registry.register_version(
            session=session,
            model_name="bench",
            task=trained.task,
            now=utcnow(),
            values={
                "estimator": trained.estimator,
                "params": trained.params,
                "metrics": trained.metrics,
                "feature_schema": trained.feature_schema,
                "classes": trained.classes,
                "dataset": "sklearn:breast_cancer",
                "data_fingerprint": data.fingerprint,
                "train_rows": trained.train_rows,
                "test_rows": trained.test_rows,
                "artifact_url": info.url,
                "artifact_sha256": info.sha256,
                "artifact_size": info.size,
            },
        )
        registry.move_alias(
            session=session,
            name="bench",
            alias="production",
            to_version=version.version,
            action="force-deploy",
            actor="bench",
            reason="benchmark",
            job_id=None,
            now=utcnow(),
        )
    record = {str(k): v for k, v in data.features.head(1).to_dict(orient="records")[0].items()}
    return record, trained.pipeline


def _sequential(url: str, record: dict[str, Any], n: int) -> list[float]:
    samples = []
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for _ in range(n):
            started = time.perf_counter()
            response = client.post(url, json={"records": [record]})
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return samples


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        settings = Settings.from_env({"TRIOPS_HOME": home, "TRIOPS_API_TOKEN": TOKEN})
        upgrade(settings)
        record, pipeline = _register(settings)
        frame = load_bundled("breast_cancer").features.head(1)
        floor = []
        for _ in range(200):
            started = time.perf_counter()
            predict(pipeline, frame)
            floor.append((time.perf_counter() - started) * 1000)
        port = _free_port()
        env = {**os.environ, **settings.process_env(), "TRIOPS_API_PORT": str(port)}
        server = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", "api"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/api/v1/models/bench/predict"
        try:
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            _sequential(url, record, 50)  # warm-up: the first call loads the model
            sequential = _sequential(url, record, REQUESTS)
            concurrent: list[float] = []
            lock = threading.Lock()

            def client_loop() -> None:
                samples = _sequential(url, record, REQUESTS // 4)
                with lock:
                    concurrent.extend(samples)

            threads = [threading.Thread(target=client_loop) for _ in range(4)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=10)
        dispose_engines()
    return {
        "requests": REQUESTS,
        "sequential": _percentiles(sequential),
        "concurrent_4_clients": {
            **_percentiles(concurrent),
            "requests_per_s": round(len(concurrent) / elapsed),
        },
        "in_process_predict": _percentiles(floor),
        "target_p99_ms": 25,
    }


def main() -> None:
    result = run()
    print("| measure | p50 ms | p99 ms |\n|---|---|---|")
    for key in ("sequential", "concurrent_4_clients", "in_process_predict"):
        print(f"| {key} | {result[key]['p50_ms']} | {result[key]['p99_ms']} |")
    print(f"\nconcurrent throughput: {result['concurrent_4_clients']['requests_per_s']} req/s")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
