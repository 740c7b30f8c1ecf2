"""Recurring schedules: when an interval or a crontab fires, and what to do when it is late.

A :class:`Timing` is either a fixed interval (``interval_s``) or a five-field crontab (``cron``)
read in an IANA time zone, optionally bounded by ``start_at`` / ``end_at``. Everything here is
pure: no I/O and no clock — the current time is always a parameter, and every returned time is
an aware UTC datetime.

Interval firings sit on an arithmetic grid (``base + k * interval_s``) and are computed in O(1)
with integer microseconds, however many intervals have elapsed. Crontab firings come from
``croniter`` in the schedule's zone, with one correction around daylight saving time:

- Spring forward: a wall-clock time that does not exist (02:30 in Europe/Paris on the last
  Sunday of March) fires when croniter says, i.e. at the first valid minute after the gap
  (03:00 local time).
- Fall back: croniter yields a wall-clock time that occurs twice (02:30 on the last Sunday of
  October) twice. As in Vixie cron, a *fixed-time* entry — neither the minute nor the hour
  field starts with ``*`` — fires only at the first occurrence; *wildcard* entries
  (``*/5 * * * *``, ``30 * * * *``) keep following real time and fire in both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from domain.errors import DomainError

_MICROSECOND = timedelta(microseconds=1)
# A fixed start for the "does this crontab ever fire" probe: croniter must never read the clock.
_PROBE_START = datetime(2000, 1, 1, tzinfo=UTC)
# croniter output that fails to advance this many times in a row means a croniter bug; stop
# rather than spin forever inside the scheduler.
_MAX_STALLS = 1_000


class ScheduleError(DomainError):
    """A timing that cannot be used; the message names the field and the problem.

    ``str(error)`` is ``"<field> <message>"``, e.g. ``"interval_s must be at least 1 second"``
    or ``"cron '61 * * * *' does not parse: ..."``.

    Attributes
    ----------
    field:
        The offending field: ``"interval_s"``, ``"cron"``, ``"timezone"``, ``"start_at"``,
        ``"end_at"``, or ``"timing"`` (the combination of interval and cron).
    message:
        The problem, without the field name.
    """

    field: str
    message: str

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}", details=[{"loc": [field], "msg": message}])
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Timing:
    """When a schedule fires.

    Attributes
    ----------
    interval_s:
        Seconds between firings (at least 1), or None for a crontab.
    cron:
        Five fields — minute hour day-of-month month day-of-week — or None for an interval.
    timezone:
        IANA zone name; the cron fields are read in this zone.
    start_at:
        Aware datetime; no firing before it (an interval's grid starts there).
    end_at:
        Aware datetime; no firing after it.
    """

    interval_s: float | None = None
    cron: str | None = None
    timezone: str = "UTC"
    start_at: datetime | None = None
    end_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What the scheduler does with a due schedule.

    Attributes
    ----------
    fire:
        Submit a job now.
    next_run_at:
        The schedule's new next run (aware UTC), or None when it has ended.
    missed:
        Due firings that are not run (0 when on time).
    """

    fire: bool
    next_run_at: datetime | None
    missed: int


def check_timing(timing: Timing) -> None:
    """Check that a timing can be used.

    Parameters
    ----------
    timing:
        The timing to check.

    Raises
    ------
    ScheduleError
        Unless exactly one of ``interval_s`` / ``cron`` is set (field ``"timing"``);
        ``interval_s`` is finite and at least 1 second; ``cron`` has exactly five fields,
        parses and can fire at all; ``timezone`` is a known IANA zone; ``start_at`` /
        ``end_at`` are timezone-aware; and ``start_at < end_at`` (field ``"end_at"``).
    """
    _check_kind(timing)
    if timing.interval_s is not None:
        _check_interval(timing.interval_s)
    zone = _zone(timing.timezone)
    if timing.cron is not None:
        _check_cron(timing.cron, zone)
    for name, value in (("start_at", timing.start_at), ("end_at", timing.end_at)):
        if value is not None and value.utcoffset() is None:
            raise ScheduleError(name, f"must be timezone-aware (got {value.isoformat()})")
    start_at, end_at = timing.start_at, timing.end_at
    if start_at is not None and end_at is not None and start_at >= end_at:
        raise ScheduleError(
            "end_at",
            f"must be later than start_at ({end_at.isoformat()} <= {start_at.isoformat()})",
        )


def next_fire(timing: Timing, *, after: datetime, anchor: datetime) -> datetime | None:
    """The first firing time strictly after ``after``.

    Parameters
    ----------
    timing:
        A valid timing (it is checked).
    after:
        Aware datetime (any zone); the result is strictly later.
    anchor:
        Aware datetime: the schedule's creation time. An interval without ``start_at`` fires
        at ``anchor + k * interval_s`` for ``k >= 1``; with ``start_at`` it fires at
        ``start_at + k * interval_s`` for ``k >= 0``. Unused by crontabs.

    Returns
    -------
    datetime or None
        The firing time as an aware UTC datetime, or None when the schedule has ended (the
        next time would be after ``end_at``, or the crontab never fires again).

    Raises
    ------
    ScheduleError
        When the timing is invalid.
    ValueError
        When ``after`` or ``anchor`` is naive.
    """
    check_timing(timing)
    _require_aware("after", after)
    _require_aware("anchor", anchor)
    if timing.interval_s is not None:
        base, k_min, step_us = _grid(timing, anchor)
        k = max(k_min, (after - base) // _MICROSECOND // step_us + 1)
        fire = (base + k * step_us * _MICROSECOND).astimezone(UTC)
    else:
        fire_or_none = next(_cron_times(timing, after=after), None)
        if fire_or_none is None:
            return None
        fire = fire_or_none
    if timing.end_at is not None and fire > timing.end_at:
        return None
    return fire


def missed_between(
    timing: Timing, *, since: datetime, until: datetime, anchor: datetime, cap: int = 10_000
) -> int:
    """How many firing times ``t`` satisfy ``since <= t <= until``, at most ``cap``.

    Firing times are those of :func:`next_fire` (so ``start_at`` / ``end_at`` bound them).
    Intervals are counted arithmetically; crontabs are iterated, stopping at ``cap``.

    Parameters
    ----------
    timing:
        A valid timing (it is checked).
    since, until:
        Aware datetimes bounding the window, both ends included; an empty window counts 0.
    anchor:
        The schedule's creation time (see :func:`next_fire`).
    cap:
        Upper bound on the count (>= 0).

    Returns
    -------
    int
        The number of firing times in the window, capped.

    Raises
    ------
    ScheduleError
        When the timing is invalid.
    ValueError
        When a datetime is naive or ``cap`` is negative.
    """
    check_timing(timing)
    _require_aware("since", since)
    _require_aware("until", until)
    _require_aware("anchor", anchor)
    if cap < 0:
        raise ValueError(f"cap must be >= 0, got {cap}")
    if timing.end_at is not None:
        until = min(until, timing.end_at)
    if until < since or cap == 0:
        return 0
    if timing.interval_s is not None:
        base, k_min, step_us = _grid(timing, anchor)
        k_low = max(k_min, -(-((since - base) // _MICROSECOND) // step_us))  # ceiling
        k_high = (until - base) // _MICROSECOND // step_us  # floor
        return max(0, min(cap, k_high - k_low + 1))
    count = 0
    for fire in _cron_times(timing, after=since - _MICROSECOND):
        if fire > until:
            break
        count += 1
        if count >= cap:
            break
    return count


def decide(
    timing: Timing,
    *,
    due_at: datetime,
    now: datetime,
    anchor: datetime,
    misfire: Literal["skip", "once"],
    grace_s: float,
) -> Decision:
    """Decide what to do with a schedule whose next run ``due_at`` has come.

    - Ended: ``end_at`` is set and ``due_at > end_at`` → no firing, ``next_run_at=None``,
      ``missed=0``.
    - On time (``now - due_at <= grace_s``) → fire, ``missed=0``, and ``next_run_at`` is
      the next firing after ``due_at`` (a scheduler running a little behind fires each run
      in turn; none is dropped).
    - Late by more than ``grace_s`` (the scheduler was down): every firing time in
      ``[due_at, now]`` is overdue, and so is ``due_at`` itself even when the timing no
      longer produces it (an edited schedule). ``misfire="once"`` fires once and reports
      ``overdue - 1`` missed; ``misfire="skip"`` does not fire and reports ``overdue``.

    When late, ``next_run_at = next_fire(after=now)``: a late schedule resumes on its next
    regular time, without a burst of catch-up runs.

    Parameters
    ----------
    timing:
        A valid timing (it is checked).
    due_at:
        The schedule's recorded next run (aware).
    now:
        The current time (aware).
    anchor:
        The schedule's creation time (see :func:`next_fire`).
    misfire:
        ``"skip"`` or ``"once"``: what a late schedule does.
    grace_s:
        Seconds of lateness (>= 0) still counted as on time.

    Returns
    -------
    Decision
        Whether to fire now, the new next run, and how many firings were missed.

    Raises
    ------
    ScheduleError
        When the timing is invalid.
    ValueError
        When ``due_at > now``, a datetime is naive, ``grace_s < 0`` or ``misfire`` is unknown.
    """
    check_timing(timing)
    _require_aware("due_at", due_at)
    _require_aware("now", now)
    if due_at > now:
        raise ValueError(f"due_at {due_at.isoformat()} is after now {now.isoformat()}")
    if misfire not in ("skip", "once"):
        raise ValueError(f"misfire must be 'skip' or 'once', got {misfire!r}")
    if grace_s < 0:
        raise ValueError(f"grace_s must be >= 0, got {grace_s}")
    if timing.end_at is not None and due_at > timing.end_at:
        return Decision(fire=False, next_run_at=None, missed=0)
    if now - due_at <= timedelta(seconds=grace_s):
        # On time: the next run is the next one after this due time, so a scheduler a
        # little behind (within the grace) fires each run in turn instead of dropping some.
        return Decision(
            fire=True, next_run_at=next_fire(timing, after=due_at, anchor=anchor), missed=0
        )
    next_run_at = next_fire(timing, after=now, anchor=anchor)
    overdue = missed_between(timing, since=due_at, until=now, anchor=anchor)
    if missed_between(timing, since=due_at, until=due_at, anchor=anchor) == 0:
        overdue += 1  # due_at is off the timing's grid (edited schedule) but was still due
    if misfire == "once":
        return Decision(fire=True, next_run_at=next_run_at, missed=overdue - 1)
    return Decision(fire=False, next_run_at=next_run_at, missed=overdue)


def describe(timing: Timing) -> str:
    """Short human text for a timing.

    Parameters
    ----------
    timing:
        An interval or a crontab.

    Returns
    -------
    str
        ``"every 90 s"``, ``"every 5 min"``, ``"every 1 h"``, ``"every 2 d"`` (the largest of
        s/min/h/d that divides the interval evenly), or ``"cron '0 2 * * *' (Europe/Paris)"``.

    Raises
    ------
    ScheduleError
        When not exactly one of ``interval_s`` / ``cron`` is set.
    """
    _check_kind(timing)
    if timing.cron is not None:
        return f"cron '{timing.cron}' ({timing.timezone})"
    seconds = timing.interval_s
    assert seconds is not None  # _check_kind: exactly one is set
    if seconds > 0 and float(seconds).is_integer():
        whole = int(seconds)
        for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
            if whole % size == 0:
                return f"every {whole // size} {unit}"
        return f"every {whole} s"
    return f"every {seconds:g} s"


def _check_kind(timing: Timing) -> None:
    if timing.interval_s is not None and timing.cron is not None:
        raise ScheduleError("timing", "needs exactly one of interval_s or cron, got both")
    if timing.interval_s is None and timing.cron is None:
        raise ScheduleError("timing", "needs exactly one of interval_s or cron, got neither")


def _check_interval(interval_s: float) -> None:
    if not math.isfinite(interval_s):
        raise ScheduleError("interval_s", f"must be a finite number, got {interval_s}")
    if interval_s <= 0:
        raise ScheduleError("interval_s", f"must be greater than 0, got {interval_s:g}")
    if interval_s < 1:
        raise ScheduleError("interval_s", f"must be at least 1 second, got {interval_s:g}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: malformed keys like "/x"
        raise ScheduleError("timezone", f"{name!r} is not a known IANA zone") from exc


def _check_cron(expression: str, zone: ZoneInfo) -> None:
    if len(expression.split()) != 5:
        raise ScheduleError(
            "cron", f"'{expression}' needs five fields (minute hour day month weekday)"
        )
    try:
        probe = croniter(expression, _PROBE_START.astimezone(zone))
    except CroniterError as exc:
        raise ScheduleError("cron", f"'{expression}' does not parse: {exc}") from exc
    try:
        probe.get_next(datetime)
    except CroniterBadDateError as exc:  # e.g. "0 0 31 2 *"
        raise ScheduleError("cron", f"'{expression}' never fires: {exc}") from exc


def _require_aware(name: str, value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def _grid(timing: Timing, anchor: datetime) -> tuple[datetime, int, int]:
    """An interval's grid: (base, smallest k, step in µs); firings are base + k * step."""
    assert timing.interval_s is not None
    step_us = round(timing.interval_s * 1_000_000)
    if timing.start_at is not None:
        return timing.start_at, 0, step_us
    return anchor, 1, step_us


def _cron_times(timing: Timing, *, after: datetime) -> Iterator[datetime]:
    """A crontab's firing times strictly after ``after`` (and not before ``start_at``), in UTC.

    Increasing; ignores ``end_at`` (callers stop); ends only if croniter finds no next date.
    """
    assert timing.cron is not None
    zone = ZoneInfo(timing.timezone)
    minute, hour = timing.cron.split()[:2]
    fixed_time = not minute.startswith("*") and not hour.startswith("*")
    start = after
    if timing.start_at is not None and timing.start_at > after:
        start = timing.start_at - _MICROSECOND  # croniter is strictly-after: start_at counts
    times = croniter(timing.cron, start.astimezone(zone))
    last = after
    previous: datetime | None = None
    stalls = 0
    while True:
        try:
            local = times.get_next(datetime)
        except CroniterBadDateError:
            return
        fire = local.astimezone(UTC)
        if previous is not None and fire <= previous:
            stalls += 1
            if stalls > _MAX_STALLS:
                raise RuntimeError(f"croniter does not advance past {fire} for {timing.cron!r}")
        else:
            stalls = 0
        previous = fire
        if fire <= last or (timing.start_at is not None and fire < timing.start_at):
            continue
        if fixed_time and _is_second_occurrence(local, zone):
            continue
        last = fire
        yield fire


def _is_second_occurrence(local: datetime, zone: ZoneInfo) -> bool:
    """Whether ``local`` is the later of two instants sharing its wall-clock time (fall back)."""
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    first_offset, second_offset = first.utcoffset(), second.utcoffset()
    assert first_offset is not None and second_offset is not None
    # In a fold the offset drops (fold=0 is the earlier, larger one); in a gap it rises.
    if first_offset <= second_offset:
        return False
    return local.astimezone(UTC) == second.astimezone(UTC)


STALE_QUEUED_S = 120.0
"""A firing's job still queued after this long no longer holds the next one back."""


def still_running(
    status: str, updated_at: datetime, *, now: datetime, stale_queued_s: float = STALE_QUEUED_S
) -> bool:
    """Whether a schedule's previous job still counts as in progress (for `overlap:
    skip`).

    Parameters
    ----------
    status:
        The job's status (`queued`, `retrying`, `running`, or a final one).
    updated_at:
        When its row last changed (UTC).
    now:
        The current time (UTC).
    stale_queued_s:
        A job queued (or retrying) this long without news is not running: its message
        is more likely lost — housekeeping deals with that — and must not block the
        schedule (housekeeping's own included).

    Returns
    -------
    True while it runs, or waits in its queue for less than `stale_queued_s`.
    """
    if status == "running":
        return True
    if status in ("queued", "retrying"):
        return (now - updated_at).total_seconds() < stale_queued_s
    return False
