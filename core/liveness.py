"""Which worker processes are alive, kept in Redis, so a dead worker costs seconds.

Every worker process (`triops worker`) is an *instance*, `<pool>@<host>:<pid>`, and every
job it starts is leased to `<instance>/<pool process pid>` (the `lease` column). The
worker's main process beats every `HEARTBEAT_S` seconds (a Celery consumer step in
`workers/liveness.py`): it writes its instance with an expiry into one Redis hash, and
it refreshes the delivery time of every message it holds (prefetched or running) in the
broker's index of unacknowledged messages.

The broker's visibility timeout is short (`VISIBILITY_TIMEOUT_S`, see core/broker.py):
the messages of a worker that stopped beating — killed, frozen, its host gone — go back
to their queue within that time and another worker takes them; a live worker's messages
never time out, however long its jobs run. A message that arrives for a job whose lease
is still alive (a duplicate delivery) is dropped; one for a job whose lease is dead takes
the job over (see `core.jobs.start_attempt`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any

HEARTBEAT_S = 5.0
"""How often a worker beats and refreshes the messages it holds."""

INSTANCE_TTL_S = 15.0
"""A worker that has not beaten for this long is dead."""

VISIBILITY_TIMEOUT_S = 20
"""A message held by a worker that stopped refreshing it goes back to its queue after
this long (the broker's sweep runs every `RESTORE_INTERVAL_S`)."""

RESTORE_INTERVAL_S = 5

WORKERS_KEY = "triops:workers"
"""Redis hash: worker instance → `{"until": epoch seconds, "pids": [its pool processes]}`."""

INSTANCE_ENV = "TRIOPS_WORKER_INSTANCE"


def instance_name(pool: str, host: str, pid: int) -> str:
    return f"{pool}@{host}:{pid}"


def current_instance() -> str | None:
    """This process's worker instance (set by `triops worker`, inherited by the pool)."""
    return os.environ.get(INSTANCE_ENV)


def lease_of(instance: str | None, pid: int) -> str | None:
    return f"{instance}/{pid}" if instance else None


class LeaseHeld(Exception):
    """The job is leased to a live process of another worker instance (as far as its
    last beat says): look again after the next beat before dropping the message."""


def beat(
    client: Any, instance: str, *, pids: Iterable[int], held_tags: Iterable[str], index_key: str
) -> None:
    """One heartbeat: the instance and its pool processes `pids` are alive for
    `INSTANCE_TTL_S` more seconds, and every message it holds is as fresh as if it had
    just been delivered (one round trip)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    entry = {"until": now + INSTANCE_TTL_S, "pids": sorted(int(p) for p in pids)}
    pipe.hset(WORKERS_KEY, instance, json.dumps(entry))
    tags = list(held_tags)
    if tags:
        pipe.zadd(index_key, dict.fromkeys(tags, now), xx=True)
    pipe.execute()


def forget(client: Any, instance: str) -> None:
    """A worker stopping cleanly is dead at once."""
    client.hdel(WORKERS_KEY, instance)


def alive_instances(client: Any, *, now: float | None = None) -> dict[str, set[int]]:
    """Every instance that has beaten recently, with its pool processes (and entries
    stale for an hour are removed)."""
    now = time.time() if now is None else now
    entries = client.hgetall(WORKERS_KEY) or {}
    alive: dict[str, set[int]] = {}
    stale = []
    for raw_name, raw_entry in entries.items():
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        try:
            entry = json.loads(raw_entry)
            until, pids = float(entry["until"]), {int(p) for p in entry["pids"]}
        except (ValueError, KeyError, TypeError):
            stale.append(name)
            continue
        if until > now:
            alive[name] = pids
        elif until < now - 3600:
            stale.append(name)
    if stale:
        client.hdel(WORKERS_KEY, *stale)
    return alive


def lease_alive(lease: str | None, alive: dict[str, set[int]], *, me: str | None) -> bool:
    """Whether the process a job is leased to may still be running it.

    A lease of this very instance is checked on the process itself; one of another
    instance by that instance's last beat (alive, and the pool process still among its
    processes).
    """
    if not lease or "/" not in lease:
        return False
    instance, _, pid_text = lease.rpartition("/")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    if instance == me:
        if pid == os.getpid():
            return False  # this process is not running it: it is starting it
        return _pid_alive(pid)
    return pid in alive.get(instance, set())


def _pid_alive(pid: int) -> bool:
    """Whether a process runs under `pid` (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
