"""The Celery application factory, shared by the workers (which add their tasks) and by
the API and beat (which only send by task name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from core.config import Settings
from core.kinds import POOL_QUEUES, SYSTEM_QUEUE, longest_time_limit_s, task_routes

VISIBILITY_MARGIN_S = 600.0
"""Redis re-delivers an unacknowledged message after the visibility timeout. It must be
longer than the longest hard time limit, or a long job would run twice at once."""


def visibility_timeout_s() -> int:
    return int(max(3600.0, longest_time_limit_s() + VISIBILITY_MARGIN_S))


def celery_config(settings: Settings) -> dict[str, Any]:
    """Everything Celery needs, one dict, the same in every process."""
    transport = {
        "visibility_timeout": visibility_timeout_s(),
        # Fail fast when Redis is down, so the API can answer 503 instead of hanging.
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        "retry_on_timeout": True,
        "health_check_interval": 30,
    }
    queues = [Queue(name, Exchange(name), routing_key=name) for name in POOL_QUEUES]
    queues.append(Queue(SYSTEM_QUEUE, Exchange(SYSTEM_QUEUE), routing_key=SYSTEM_QUEUE))
    return {
        "broker_url": settings.redis_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 5,
        # Results live in the jobs table; the Redis backend only carries the parts of a
        # split ETL to its commit (a chord), and forgets them after a day.
        "result_backend": settings.redis_url,
        "result_expires": 86400,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_queues": queues,
        "task_default_queue": SYSTEM_QUEUE,
        "task_default_exchange": SYSTEM_QUEUE,
        "task_default_routing_key": SYSTEM_QUEUE,
        "task_create_missing_queues": False,
        "task_routes": task_routes(),
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_deduplicate_successful_tasks": False,
        "enable_utc": True,
        "timezone": "UTC",
    }


def create_celery(settings: Settings, *, include: Sequence[str] = ()) -> Celery:
    """A Celery app for `settings`; workers pass their task modules in `include`."""
    app = Celery("triops", include=list(include), set_as_current=bool(include))
    app.conf.update(celery_config(settings))
    return app


def message_ids_in_broker(app: Celery, queues: Sequence[str]) -> set[str]:
    """Task ids of every message still in a queue or held unacknowledged by a worker.

    Reads kombu's Redis layout: one list per queue (plus its priority sub-lists) and the
    `unacked` hash of messages delivered but not yet acknowledged.
    """
    ids: set[str] = set()
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = channel.client
        sep = getattr(channel, "sep", "\x06\x16")
        for queue in queues:
            for key in [queue, *(f"{queue}{sep}{p}" for p in range(1, 10))]:
                for raw in client.lrange(key, 0, -1):
                    ids.add(_task_id(raw))
        for raw in client.hvals(channel.unacked_key):
            ids.add(_task_id(raw, wrapped=True))
    ids.discard("")
    return ids


def queue_lengths(app: Celery, queues: Sequence[str]) -> dict[str, int]:
    """How many messages wait in each queue (priority sub-lists included; messages a
    worker holds unacknowledged are not counted)."""
    lengths: dict[str, int] = {}
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        client = channel.client
        sep = getattr(channel, "sep", "\x06\x16")
        for queue in queues:
            keys = [queue, *(f"{queue}{sep}{p}" for p in range(1, 10))]
            lengths[queue] = sum(int(client.llen(key)) for key in keys)
    return lengths


def _task_id(raw: bytes | str, *, wrapped: bool = False) -> str:
    import json

    try:
        message = json.loads(raw)
        if wrapped:  # unacked entries are [message, exchange, routing_key]
            message = message[0]
        return str(message.get("headers", {}).get("id", ""))
    except (ValueError, TypeError, AttributeError, IndexError):
        return ""
