"""Bare Celery 5: the baseline of the speed benchmarks. One trivial task, JSON only, a
Redis broker and a Redis result backend, nothing of triops in between.

The worker reads its URLs from `BENCH_CELERY_BROKER_URL` / `BENCH_CELERY_RESULT_URL`
(`bench/stack.py` sets them).
"""

from __future__ import annotations

import functools
import os
import time

from celery import Celery


@functools.cache
def make_app(broker_url: str, result_url: str) -> Celery:
    app = Celery("bench_bare", broker=broker_url, backend=result_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )

    @app.task(name="bench.noop")
    def noop() -> float:
        """Returns when it started (epoch seconds), so queue latency can be read."""
        return time.time()

    return app


def __getattr__(name: str) -> Celery:
    """`celery -A bench.bare_celery` finds `app` here; built on first use, so a process
    that only sends (with its own URLs) holds one app and one `bench.noop`."""
    if name != "app":
        raise AttributeError(name)
    return make_app(
        os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
        os.environ.get("BENCH_CELERY_RESULT_URL", "redis://127.0.0.1:6379/1"),
    )
