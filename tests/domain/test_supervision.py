"""The restart policy of `triops up`: backoff, a budget per window, a fresh start after
a healthy run."""

from __future__ import annotations

from domain.supervision import RestartPolicy


def test_restarts_back_off_and_give_up_when_the_budget_of_the_window_is_spent() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=8, max_restarts=4, window_s=100)
    delays = [policy.on_exit(now=t, started_at=t - 1) for t in (0, 2, 5, 10)]
    assert delays == [1, 2, 4, 8]
    assert policy.on_exit(now=20, started_at=19) is None  # five crashes in 100 s


def test_the_budget_is_per_window_not_per_lifetime() -> None:
    policy = RestartPolicy(max_restarts=3, window_s=60, healthy_after_s=1000)
    for t in (0, 20, 40):
        assert policy.on_exit(now=t, started_at=t - 1) is not None
    # A crash every 20 s stays within budget as long as old ones leave the window.
    assert policy.on_exit(now=70, started_at=69) is not None
    assert policy.on_exit(now=75, started_at=74) is None


def test_a_child_that_ran_healthy_for_a_while_restarts_at_the_first_delay() -> None:
    policy = RestartPolicy(first_delay_s=1, max_delay_s=30, healthy_after_s=60, window_s=10)
    assert [policy.on_exit(now=t, started_at=t - 1) for t in (0, 2, 4)] == [1, 2, 4]
    # Six crashes, 20 s apart, each after being healthy in between: never a stop.
    for i in range(6):
        now = 100 + i * 120
        assert policy.on_exit(now=now, started_at=now - 100) == 1
