"""Deciding what to do with jobs whose broker message may be lost. Time is a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Action(StrEnum):
    KEEP = "keep"
    RESEND = "resend"
    FAIL = "fail"


@dataclass(frozen=True)
class QueuedJob:
    """What the decision needs to know of a job that is queued (or retrying)."""

    id: str
    updated_at: datetime
    resends: int


def decide_queued(
    job: QueuedJob,
    *,
    in_broker: bool,
    now: datetime,
    lost_after_s: float,
    max_resends: int,
) -> Action:
    """What to do with a queued job.

    Parameters
    ----------
    job:
        The job as recorded.
    in_broker:
        Whether its message is still in a queue or held (unacknowledged) by a worker.
    now:
        The current time (UTC).
    lost_after_s:
        Seconds without news after which a job whose message is gone counts as lost.
    max_resends:
        How many times a lost message is re-sent before the job is failed.

    Returns
    -------
    KEEP while the message exists or the job is young; RESEND a lost message while
    resends remain; FAIL after that.
    """
    if in_broker or now - job.updated_at < timedelta(seconds=lost_after_s):
        return Action.KEEP
    return Action.RESEND if job.resends < max_resends else Action.FAIL


def is_stale_running(
    *, updated_at: datetime, in_broker: bool, now: datetime, time_limit_s: float, grace_s: float
) -> bool:
    """A running job no worker can still be working on.

    A worker kills a job at its hard time limit; past that plus `grace_s` seconds with
    its message gone from the broker (so no redelivery will come), nobody runs it.
    """
    return not in_broker and now - updated_at > timedelta(seconds=time_limit_s + grace_s)


def decide_running(
    *,
    lease_alive: bool,
    in_broker: bool,
    started_at: datetime,
    now: datetime,
    resends: int,
    max_resends: int,
    settle_s: float,
) -> Action:
    """What to do with a running job.

    Parameters
    ----------
    lease_alive:
        Whether the process it is leased to still runs (its worker still beats).
    in_broker:
        Whether its message is still in a queue or held by a worker (then the broker
        hands it to another worker when its holder dies: nothing to do).
    started_at:
        When the current attempt started (UTC).
    now:
        The current time (UTC).
    resends, max_resends:
        As for `decide_queued`.
    settle_s:
        Seconds to leave a just-started job alone (its message may be between the queue
        and the worker's unacknowledged set).

    Returns
    -------
    KEEP while its process lives or its message exists; RESEND when both are gone
    (the job goes back to its queue); FAIL once the resends are spent.
    """
    if lease_alive or in_broker or now - started_at < timedelta(seconds=settle_s):
        return Action.KEEP
    return Action.RESEND if resends < max_resends else Action.FAIL
