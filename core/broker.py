"""The Celery application factory, shared by the workers (which add their tasks) and by
the API and beat (which only send by task name)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from core.bundles import job_ids_of_message
from core.config import Settings
from core.kinds import POOL_QUEUES, SYSTEM_QUEUE, task_routes
from core.liveness import RESTORE_INTERVAL_S, VISIBILITY_TIMEOUT_S


def celery_config(settings: Settings) -> dict[str, Any]:
    """Everything Celery needs, one dict, the same in every process."""
    transport = {
        # Redis hands a message back to its queue when the worker that took it has not
        # refreshed it for this long; live workers refresh theirs every few seconds
        # (core/liveness.py), so only a dead worker's messages come back — within ~25 s —
        # and a long job is never handed out twice while its worker lives.
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": RESTORE_INTERVAL_S,
        "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 30,
        # Fail fast when Redis is down, so the API can answer 503 instead of hanging.
        "socket_connect_timeout": 5,
        "socket_timeout": 30,
        # A timed-out write is not replayed (it may have landed: a replay could queue a job
        # twice); the caller sees the error instead. This also lets a batch of messages
        # go out as one pipelined round trip (kombu's Producer.batch).
        "retry_on_timeout": False,
        "health_check_interval": 30,
    }
    # Every queue is reached through the default exchange, by its name: on Redis a
    # message is then one LPUSH, with no lookup of exchange bindings per message.
    default = Exchange("", type="direct")
    queues = [Queue(name, default, routing_key=name) for name in (*POOL_QUEUES, SYSTEM_QUEUE)]
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
        "task_default_exchange": "",
        "task_default_routing_key": SYSTEM_QUEUE,
        "task_create_missing_queues": False,
        "task_routes": task_routes(),
        # Task events cost a Redis publish each (three a job, and one per message sent):
        # off unless asked for; Flower turns the workers' on while it runs.
        "task_send_sent_event": settings.task_events,
        "worker_send_task_events": settings.task_events,
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
    """Job ids of every message still in a queue or held unacknowledged by a worker (a
    bundle counts for each of its jobs).

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
                    ids.update(_job_ids(raw))
        for raw in client.hvals(channel.unacked_key):
            ids.update(_job_ids(raw, wrapped=True))
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


def _job_ids(raw: bytes | str, *, wrapped: bool = False) -> list[str]:
    """The job ids of a raw message: its task id, or a bundle's jobs (core/bundles.py)."""
    import json

    try:
        message = json.loads(raw)
        if wrapped:  # unacked entries are [message, exchange, routing_key]
            message = message[0]
        return job_ids_of_message(message)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError):
        return []


def queue_depths(app: Celery, queues: Sequence[str]) -> dict[str, int]:
    """Messages waiting in each queue (its priority sub-lists included), one round trip."""
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        sep = getattr(channel, "sep", "\x06\x16")
        keys = {q: [q, *(f"{q}{sep}{p}" for p in range(1, 10))] for q in queues}
        with channel.client.pipeline(transaction=False) as pipe:
            for names in keys.values():
                for key in names:
                    pipe.llen(key)
            lengths = iter(pipe.execute())
        return {q: sum(next(lengths) for _ in names) for q, names in keys.items()}
