"""A worker's metrics and logs.

Metrics: the jobs of a worker run in its prefork pool processes, so prometheus_client
runs in multiprocess mode. Before anything imports it, `triops worker` points
`PROMETHEUS_MULTIPROC_DIR` at a fresh folder of this worker's
(`$TRIOPS_HOME/metrics/<pool>-<pid>`); the pool's children write their samples there and
this main process serves their sum on `TRIOPS_WORKER_METRICS_PORT` (when it is not 0).

Logs: Celery's own logging setup is replaced by ours (`core/logs.py`): text, or JSON
lines with `TRIOPS_LOG_JSON=1`; `JobTask` adds job_id, kind and pool to every line a job
writes.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from celery.signals import setup_logging

from core.config import Settings, get_settings

METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve_worker_metrics(settings: Settings, pool: str) -> None:
    """Prepare the multiprocess folder and, when a port is set, serve the pool's metrics."""
    folder = settings.home / "metrics" / f"{pool}-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[METRICS_DIR_ENV] = str(folder)
    if settings.worker_metrics_port:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(folder))
        start_http_server(
            settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
        )


@setup_logging.connect
def _logging(loglevel: Any = None, **_: Any) -> None:
    """Celery calls this instead of configuring logging itself."""
    from core.logs import configure

    configure(json_lines=get_settings().log_json, level=loglevel or "INFO")
