from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.housekeeping import Action, QueuedJob, decide_queued, decide_running, is_stale_running

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age_s", "in_broker", "resends", "expected"),
    [
        (10, False, 0, Action.KEEP),  # young: the message may still be on its way
        (600, True, 0, Action.KEEP),  # old, but the message is waiting in a queue
        (600, False, 0, Action.RESEND),
        (600, False, 2, Action.RESEND),
        (600, False, 3, Action.FAIL),
    ],
)
def test_a_queued_job_is_kept_resent_or_failed(
    age_s: float, in_broker: bool, resends: int, expected: Action
) -> None:
    job = QueuedJob("j", NOW - timedelta(seconds=age_s), resends)
    action = decide_queued(job, in_broker=in_broker, now=NOW, lost_after_s=300, max_resends=3)
    assert action is expected


@pytest.mark.parametrize(
    ("age_s", "in_broker", "expected"),
    [(100, False, False), (5000, True, False), (5000, False, True)],
)
def test_a_running_job_is_stale_only_past_its_limit_with_no_message_left(
    age_s: float, in_broker: bool, expected: bool
) -> None:
    stale = is_stale_running(
        updated_at=NOW - timedelta(seconds=age_s),
        in_broker=in_broker,
        now=NOW,
        time_limit_s=1800,
        grace_s=600,
    )
    assert stale is expected


@pytest.mark.parametrize(
    ("alive", "in_broker", "age_s", "resends", "expected"),
    [
        (True, False, 600, 0, Action.KEEP),  # its process runs it
        (False, True, 600, 0, Action.KEEP),  # the broker will hand its message out again
        (False, False, 5, 0, Action.KEEP),  # just started: the message may be in flight
        (False, False, 600, 0, Action.RESEND),  # process and message gone
        (False, False, 600, 3, Action.FAIL),
    ],
)
def test_a_running_job_whose_process_and_message_are_gone_is_sent_again(
    alive: bool, in_broker: bool, age_s: float, resends: int, expected: Action
) -> None:
    action = decide_running(
        lease_alive=alive,
        in_broker=in_broker,
        started_at=NOW - timedelta(seconds=age_s),
        now=NOW,
        resends=resends,
        max_resends=3,
        settle_s=30,
    )
    assert action is expected
