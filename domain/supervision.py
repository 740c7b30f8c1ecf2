"""When a supervisor restarts a child that exited, and when it gives up. Time is a
parameter; `triops up` applies it to every process it starts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RestartPolicy:
    """Restart with a growing delay; give up after `max_restarts` restarts within
    `window_s` seconds. A child that stayed up `healthy_after_s` seconds starts afresh
    (its delay back to the first step): a crash a day is not a crash loop.

    Attributes
    ----------
    first_delay_s, max_delay_s:
        The delay before the first restart of a series, and its ceiling (doubling).
    max_restarts, window_s:
        The budget: this many restarts within this many seconds.
    healthy_after_s:
        Seconds up after which a child counts as healthy.
    """

    first_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_restarts: int = 5
    window_s: float = 300.0
    healthy_after_s: float = 60.0
    restarts: list[float] = field(default_factory=list)
    streak: int = 0

    def on_exit(self, *, now: float, started_at: float) -> float | None:
        """The child exited at `now` (it started at `started_at`): the seconds to wait
        before restarting it, or None to give up."""
        if now - started_at >= self.healthy_after_s:
            self.streak = 0
        self.restarts = [t for t in self.restarts if now - t < self.window_s]
        if len(self.restarts) >= self.max_restarts:
            return None
        self.restarts.append(now)
        delay = min(self.max_delay_s, self.first_delay_s * 2**self.streak)
        self.streak += 1
        return delay
