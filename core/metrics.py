"""Prometheus metrics of the API and the workers (prometheus_client).

The API serves its own at `/metrics`. A worker's jobs run in prefork pool processes, so
the worker metrics use prometheus_client's multiprocess mode: each worker points
`PROMETHEUS_MULTIPROC_DIR` at a folder of its own before its pool forks, the children
write their samples there, and the worker's main process serves the sum of them on
`TRIOPS_WORKER_METRICS_PORT` (see `workers/observability.py`).

    API                                         workers
    triops_http_requests_total{route,method,status}   triops_jobs_finished_total{kind,pool,status}
    triops_http_request_seconds{route,method}          triops_job_seconds{kind,pool}
    triops_jobs_submitted_total{kind}                  triops_job_retries_total{kind,pool}
    triops_queue_depth{queue}   (read from Redis at      triops_job_redeliveries_total{kind,pool}
                                 scrape time)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "triops_http_requests",
    "HTTP requests answered by the API, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "triops_http_request_seconds",
    "Time the API took to answer, in seconds, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
JOBS_SUBMITTED = Counter(
    "triops_jobs_submitted", "Jobs created through the API, by kind.", ["kind"]
)

JOBS_FINISHED = Counter(
    "triops_jobs_finished",
    "Jobs a worker finished, by kind, pool and final status (succeeded, failed).",
    ["kind", "pool", "status"],
)
JOB_SECONDS = Histogram(
    "triops_job_seconds",
    "Time a job's attempt ran on a worker, in seconds, by kind and pool.",
    ["kind", "pool"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
JOB_RETRIES = Counter(
    "triops_job_retries",
    "Transient failures a job was retried after, by kind and pool.",
    ["kind", "pool"],
)
JOB_REDELIVERIES = Counter(
    "triops_job_redeliveries",
    "Attempts that started again after an earlier one was lost (a worker died), by kind and pool.",
    ["kind", "pool"],
)


class QueueDepth(Collector):
    """`triops_queue_depth{queue}`: messages waiting in each queue, read at scrape time."""

    def __init__(self, depths: Callable[[], dict[str, int]]) -> None:
        self.depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "triops_queue_depth",
            "Messages waiting in each queue (not yet taken); a bundle of a batch's jobs is one.",
            labels=["queue"],
        )
        try:
            for queue, depth in self.depths().items():
                family.add_metric([queue], depth)
        except Exception:  # the broker is down: the gauge is absent, the scrape goes on
            return
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []
