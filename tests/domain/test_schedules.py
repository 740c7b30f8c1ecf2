from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.schedules import (
    Decision,
    ScheduleError,
    Timing,
    check_timing,
    decide,
    describe,
    missed_between,
    next_fire,
    still_running,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> datetime:
    """An aware UTC datetime from "YYYY-MM-DDTHH:MM[:SS[.ffffff]]"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


ANCHOR = utc("2026-05-04T10:00:00")
EVERY_5_MIN = Timing(interval_s=300)


def fires(
    timing: Timing, *, after: datetime, until: datetime, anchor: datetime = ANCHOR
) -> list[datetime]:
    """All firing times in (after, until], by chaining next_fire."""
    out: list[datetime] = []
    current = next_fire(timing, after=after, anchor=anchor)
    while current is not None and current <= until:
        out.append(current)
        current = next_fire(timing, after=current, anchor=anchor)
    return out


# --- check_timing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timing", "field", "fragment"),
    [
        (Timing(interval_s=60, cron="* * * * *"), "timing", "got both"),
        (Timing(), "timing", "got neither"),
        (Timing(interval_s=0), "interval_s", "must be greater than 0"),
        (Timing(interval_s=-5), "interval_s", "must be greater than 0"),
        (Timing(interval_s=0.5), "interval_s", "must be at least 1 second"),
        (Timing(interval_s=float("nan")), "interval_s", "finite"),
        (Timing(interval_s=float("inf")), "interval_s", "finite"),
        (Timing(cron="61 * * * *"), "cron", "cron '61 * * * *' does not parse: "),
        (Timing(cron="0 25 * * *"), "cron", "out of range"),
        (Timing(cron="* * *"), "cron", "needs five fields (minute hour day month weekday)"),
        (Timing(cron="0 0 2 * * *"), "cron", "needs five fields"),
        (Timing(cron="0 0 2 * * * 2030"), "cron", "needs five fields"),
        (Timing(cron="@daily"), "cron", "needs five fields"),
        (Timing(cron=""), "cron", "needs five fields"),
        (Timing(cron="0 0 31 2 *"), "cron", "never fires"),
        (Timing(interval_s=60, timezone="Mars/Olympus"), "timezone", "'Mars/Olympus'"),
        (Timing(cron="0 2 * * *", timezone="Mars/Olympus"), "timezone", "not a known IANA"),
        (Timing(interval_s=60, start_at=datetime(2026, 1, 1)), "start_at", "timezone-aware"),
        (Timing(interval_s=60, end_at=datetime(2026, 1, 1)), "end_at", "timezone-aware"),
        (
            Timing(interval_s=60, start_at=utc("2026-01-02T00:00"), end_at=utc("2026-01-01T00:00")),
            "end_at",
            "later than start_at",
        ),
        (
            Timing(interval_s=60, start_at=utc("2026-01-01T00:00"), end_at=utc("2026-01-01T00:00")),
            "end_at",
            "later than start_at",
        ),
    ],
)
def test_check_timing_names_the_field_and_the_problem(
    timing: Timing, field: str, fragment: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        check_timing(timing)
    assert caught.value.field == field
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(field + " ")


def test_a_bad_cron_message_quotes_the_expression_and_croniters_complaint() -> None:
    with pytest.raises(ScheduleError) as caught:
        check_timing(Timing(cron="61 * * * *"))
    message = str(caught.value)
    assert message.startswith("cron '61 * * * *' does not parse: ")
    assert "out of range" in message  # croniter's own words
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "timing",
    [
        Timing(interval_s=1),
        Timing(interval_s=300.0),
        Timing(cron="0 2 * * *"),
        Timing(cron=" */5  * * * * "),
        Timing(cron="0 0 29 2 *"),  # only in leap years, but it does fire
        Timing(cron="30 2 * * *", timezone="Europe/Paris"),
        Timing(
            interval_s=60,
            start_at=utc("2026-01-01T00:00"),
            end_at=datetime(2026, 1, 1, 1, 0, 1, tzinfo=PARIS),  # 00:00:01Z, later than start
        ),
    ],
)
def test_check_timing_accepts_usable_timings(timing: Timing) -> None:
    check_timing(timing)


# --- next_fire: intervals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-05-04T10:00:00", "2026-05-04T10:05:00"),
        ("2026-05-04T10:07:30", "2026-05-04T10:10:00"),
        ("2026-05-04T10:05:00", "2026-05-04T10:10:00"),  # strictly after
        ("2026-05-04T10:04:59.999999", "2026-05-04T10:05:00"),
        ("2026-05-04T09:00:00", "2026-05-04T10:05:00"),  # before the anchor: the anchor is not
    ],
)
def test_an_interval_fires_on_the_anchor_grid_strictly_after(after: str, expected: str) -> None:
    assert next_fire(EVERY_5_MIN, after=utc(after), anchor=ANCHOR) == utc(expected)


def test_interval_results_are_utc_whatever_the_zones_of_the_inputs() -> None:
    after = datetime(2026, 5, 4, 12, 7, 30, tzinfo=PARIS)  # 10:07:30Z
    anchor = datetime(2026, 5, 4, 6, 0, tzinfo=NEW_YORK)  # 10:00Z
    result = next_fire(EVERY_5_MIN, after=after, anchor=anchor)
    assert result == utc("2026-05-04T10:10:00")
    assert result is not None and result.tzinfo is UTC


def test_with_start_at_the_grid_starts_there_and_start_at_itself_fires() -> None:
    start = utc("2026-05-04T12:00:00")
    timing = Timing(interval_s=300, start_at=start)
    assert next_fire(timing, after=utc("2026-05-04T11:00:00"), anchor=ANCHOR) == start
    assert next_fire(timing, after=start - timedelta(microseconds=1), anchor=ANCHOR) == start
    assert next_fire(timing, after=start, anchor=ANCHOR) == utc("2026-05-04T12:05:00")
    # The grid follows start_at, not the anchor: start_at + 2.5 intervals -> + 3 intervals.
    odd = Timing(interval_s=300, start_at=utc("2026-05-04T12:01:00"))
    assert next_fire(odd, after=utc("2026-05-04T12:13:30"), anchor=ANCHOR) == utc(
        "2026-05-04T12:16:00"
    )


def test_an_interval_honours_end_at() -> None:
    timing = Timing(interval_s=300, end_at=utc("2026-05-04T10:10:00"))
    # A firing exactly at end_at still happens; the one after does not.
    assert next_fire(timing, after=utc("2026-05-04T10:07:00"), anchor=ANCHOR) == utc(
        "2026-05-04T10:10:00"
    )
    assert next_fire(timing, after=utc("2026-05-04T10:10:00"), anchor=ANCHOR) is None
    assert next_fire(timing, after=utc("2026-06-01T00:00:00"), anchor=ANCHOR) is None


def test_a_one_second_interval_a_year_later_is_exact_and_quick() -> None:
    anchor = utc("2026-01-01T00:00:00")
    started = time.perf_counter()
    off_grid = next_fire(Timing(interval_s=1), after=utc("2027-01-01T00:00:00.5"), anchor=anchor)
    on_grid = next_fire(Timing(interval_s=1), after=utc("2027-01-01T00:00:00"), anchor=anchor)
    # 1.5 s over a century: integer arithmetic, no float drift.
    far = next_fire(Timing(interval_s=1.5), after=utc("2126-01-01T00:00:00"), anchor=anchor)
    elapsed = time.perf_counter() - started
    assert off_grid == utc("2027-01-01T00:00:01")
    assert on_grid == utc("2027-01-01T00:00:01")
    assert far is not None
    assert (far - anchor) % timedelta(seconds=1.5) == timedelta(0)
    assert timedelta(0) < far - utc("2126-01-01T00:00:00") <= timedelta(seconds=1.5)
    assert elapsed < 0.5  # stepping through 31.5 million intervals would take many seconds


def test_next_fire_rejects_naive_times_and_invalid_timings() -> None:
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_fire(EVERY_5_MIN, after=datetime(2026, 1, 1), anchor=ANCHOR)
    with pytest.raises(ValueError, match="anchor must be timezone-aware"):
        next_fire(EVERY_5_MIN, after=ANCHOR, anchor=datetime(2026, 1, 1))
    with pytest.raises(ScheduleError):
        next_fire(Timing(interval_s=0.5), after=ANCHOR, anchor=ANCHOR)


# --- next_fire: crontabs ----------------------------------------------------------------------


def test_a_daily_cron_in_utc() -> None:
    daily = Timing(cron="0 2 * * *")
    assert next_fire(daily, after=utc("2026-05-01T01:00"), anchor=ANCHOR) == utc("2026-05-01T02:00")
    assert next_fire(daily, after=utc("2026-05-01T02:00"), anchor=ANCHOR) == utc("2026-05-02T02:00")
    result = next_fire(daily, after=utc("2026-05-01T02:00:00.000001"), anchor=ANCHOR)
    assert result == utc("2026-05-02T02:00")
    assert result is not None and result.tzinfo is UTC


def test_every_five_minutes() -> None:
    timing = Timing(cron="*/5 * * * *")
    assert next_fire(timing, after=utc("2026-05-01T10:02:30"), anchor=ANCHOR) == utc(
        "2026-05-01T10:05"
    )
    assert next_fire(timing, after=utc("2026-05-01T10:05"), anchor=ANCHOR) == utc(
        "2026-05-01T10:10"
    )
    assert next_fire(timing, after=utc("2026-05-01T23:58"), anchor=ANCHOR) == utc(
        "2026-05-02T00:00"
    )


def test_cron_fields_are_read_in_the_timezone() -> None:
    timing = Timing(cron="0 2 * * *", timezone="Europe/Paris")
    # Winter: 02:00 CET is 01:00Z; summer: 02:00 CEST is 00:00Z.
    assert next_fire(timing, after=utc("2026-01-15T12:00"), anchor=ANCHOR) == utc(
        "2026-01-16T01:00"
    )
    assert next_fire(timing, after=utc("2026-07-15T12:00"), anchor=ANCHOR) == utc(
        "2026-07-16T00:00"
    )


def test_paris_spring_forward_a_time_in_the_gap_fires_once_after_the_gap() -> None:
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    timing = Timing(cron="30 2 * * *", timezone="Europe/Paris")
    got = fires(timing, after=utc("2026-03-27T12:00"), until=utc("2026-03-31T12:00"))
    assert got == [
        utc("2026-03-28T01:30"),  # 02:30 CET
        utc("2026-03-29T01:00"),  # croniter: 03:00 CEST, the first minute after the gap
        utc("2026-03-30T00:30"),  # 02:30 CEST
        utc("2026-03-31T00:30"),
    ]
    assert got[1].astimezone(PARIS).strftime("%H:%M %Z") == "03:00 CEST"
    day = missed_between(
        timing, since=utc("2026-03-28T23:00"), until=utc("2026-03-29T22:00"), anchor=ANCHOR
    )
    assert day == 1


def test_paris_fall_back_a_repeated_time_fires_once() -> None:
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET, so 02:30 happens at 00:30Z and 01:30Z.
    timing = Timing(cron="30 2 * * *", timezone="Europe/Paris")
    start, end = utc("2026-10-25T00:00"), utc("2026-10-26T00:00")
    assert fires(timing, after=start, until=end) == [utc("2026-10-25T00:30")]
    assert missed_between(timing, since=start, until=end, anchor=ANCHOR) == 1
    # After the first 02:30 (and from inside the repeated hour) the next is the next day's.
    for after in ("2026-10-25T00:30", "2026-10-25T01:00", "2026-10-25T01:29"):
        assert next_fire(timing, after=utc(after), anchor=ANCHOR) == utc("2026-10-26T01:30")
    assert fires(timing, after=utc("2026-10-23T12:00"), until=utc("2026-10-27T12:00")) == [
        utc("2026-10-24T00:30"),
        utc("2026-10-25T00:30"),
        utc("2026-10-26T01:30"),
        utc("2026-10-27T01:30"),
    ]


def test_wildcard_hour_crons_follow_real_time_across_dst() -> None:
    hourly = Timing(cron="30 * * * *", timezone="Europe/Paris")
    # The local day of 2026-10-25 has 25 hours, that of 2026-03-29 has 23.
    fall_day = missed_between(
        hourly, since=utc("2026-10-24T22:00"), until=utc("2026-10-25T22:59"), anchor=ANCHOR
    )
    spring_day = missed_between(
        hourly, since=utc("2026-03-28T23:00"), until=utc("2026-03-29T21:59"), anchor=ANCHOR
    )
    assert (fall_day, spring_day) == (25, 23)
    # Both 02:30s of the fall-back night fire, an hour apart.
    assert fires(hourly, after=utc("2026-10-25T00:00"), until=utc("2026-10-25T02:00")) == [
        utc("2026-10-25T00:30"),
        utc("2026-10-25T01:30"),
    ]
    every_5 = Timing(cron="*/5 * * * *", timezone="Europe/Paris")
    got = fires(every_5, after=utc("2026-10-25T00:00"), until=utc("2026-10-25T02:00"))
    assert len(got) == 24  # no gap and no duplicate across the repeated hour
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(got))


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("2026-01-01T00:00", "2026-01-05T14:00"),  # EST, UTC-5
        ("2026-03-01T00:00", "2026-03-02T14:00"),  # the last Monday before DST (2026-03-08)
        ("2026-03-03T00:00", "2026-03-09T13:00"),  # the first Monday after: EDT, UTC-4
        ("2026-07-01T00:00", "2026-07-06T13:00"),
        ("2026-10-27T00:00", "2026-11-02T14:00"),  # DST ends 2026-11-01
    ],
)
def test_a_weekly_monday_job_in_new_york_follows_dst(after: str, expected: str) -> None:
    timing = Timing(cron="0 9 * * 1", timezone="America/New_York")
    result = next_fire(timing, after=utc(after), anchor=ANCHOR)
    assert result == utc(expected)
    assert result is not None
    assert result.astimezone(NEW_YORK).strftime("%a %H:%M") == "Mon 09:00"


def test_a_cron_time_equal_to_start_at_counts_and_end_at_ends_it() -> None:
    daily = "0 2 * * *"
    start = utc("2026-05-10T02:00")
    assert next_fire(
        Timing(cron=daily, start_at=start), after=utc("2026-05-01"), anchor=ANCHOR
    ) == (start)
    late_start = Timing(cron=daily, start_at=utc("2026-05-10T02:00:00.5"))
    assert next_fire(late_start, after=utc("2026-05-01"), anchor=ANCHOR) == utc("2026-05-11T02:00")
    ending = Timing(cron=daily, end_at=utc("2026-05-10T02:00"))
    assert next_fire(ending, after=utc("2026-05-09T12:00"), anchor=ANCHOR) == utc(
        "2026-05-10T02:00"
    )
    assert next_fire(ending, after=utc("2026-05-10T02:00"), anchor=ANCHOR) is None


# --- missed_between ---------------------------------------------------------------------------


def test_missed_between_counts_interval_firings_inclusively() -> None:
    since, until = utc("2026-05-04T10:00"), utc("2026-05-04T11:00")
    # Without start_at the anchor itself is not a firing: 10:05 ... 11:00.
    assert missed_between(EVERY_5_MIN, since=since, until=until, anchor=ANCHOR) == 12
    with_start = Timing(interval_s=300, start_at=ANCHOR)
    assert missed_between(with_start, since=since, until=until, anchor=ANCHOR) == 13
    assert (
        missed_between(
            EVERY_5_MIN,
            since=utc("2026-05-04T10:05:01"),
            until=utc("2026-05-04T10:09:59"),
            anchor=ANCHOR,
        )
        == 0
    )
    assert missed_between(EVERY_5_MIN, since=until, until=since, anchor=ANCHOR) == 0
    ending = Timing(interval_s=300, end_at=utc("2026-05-04T10:30"))
    assert missed_between(ending, since=since, until=until, anchor=ANCHOR) == 6
    late_start = Timing(interval_s=300, start_at=utc("2026-05-04T10:40"))
    assert missed_between(late_start, since=since, until=until, anchor=ANCHOR) == 5


def test_missed_between_counts_cron_firings_inclusively() -> None:
    timing = Timing(cron="*/5 * * * *")
    since, until = utc("2026-05-04T10:00"), utc("2026-05-04T11:00")
    assert missed_between(timing, since=since, until=until, anchor=ANCHOR) == 13
    daily = Timing(cron="0 2 * * *", timezone="Europe/Paris")
    # 2026-05-01 .. 2026-05-31 at 00:00Z (02:00 CEST), both ends included.
    assert (
        missed_between(
            daily, since=utc("2026-05-01T00:00"), until=utc("2026-05-31T00:00"), anchor=ANCHOR
        )
        == 31
    )


def test_missed_between_stops_at_the_cap() -> None:
    day = (utc("2026-05-04T00:00"), utc("2026-05-05T00:00"))
    every_second = Timing(interval_s=1, start_at=day[0])
    assert missed_between(every_second, since=day[0], until=day[1], anchor=ANCHOR, cap=10**6) == (
        86_401
    )
    assert missed_between(every_second, since=day[0], until=day[1], anchor=ANCHOR) == 10_000
    assert missed_between(every_second, since=day[0], until=day[1], anchor=ANCHOR, cap=50) == 50
    every_minute = Timing(cron="* * * * *")
    started = time.perf_counter()
    a_decade = missed_between(
        every_minute, since=utc("2020-01-01"), until=utc("2030-01-01"), anchor=ANCHOR, cap=7
    )
    assert a_decade == 7
    assert time.perf_counter() - started < 0.5
    assert missed_between(every_minute, since=day[0], until=day[1], anchor=ANCHOR, cap=0) == 0
    with pytest.raises(ValueError, match="cap"):
        missed_between(every_minute, since=day[0], until=day[1], anchor=ANCHOR, cap=-1)


# --- decide -----------------------------------------------------------------------------------


def test_decide_on_time_fires_and_moves_to_the_next_run() -> None:
    decision = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:05"),
        now=utc("2026-05-04T10:05:20"),
        anchor=ANCHOR,
        misfire="skip",
        grace_s=60,
    )
    assert decision == Decision(fire=True, next_run_at=utc("2026-05-04T10:10"), missed=0)
    exactly_grace = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:05"),
        now=utc("2026-05-04T10:06"),
        anchor=ANCHOR,
        misfire="skip",
        grace_s=60,
    )
    assert exactly_grace.fire and exactly_grace.missed == 0


def test_decide_behind_within_the_grace_fires_each_run_in_turn() -> None:
    every_second = Timing(interval_s=1)
    anchor = utc("2026-05-04T10:00")
    due, now, fired = utc("2026-05-04T10:00:01"), utc("2026-05-04T10:00:04.5"), []
    while due is not None and due <= now:
        decision = decide(
            every_second, due_at=due, now=now, anchor=anchor, misfire="skip", grace_s=30
        )
        assert decision.fire and decision.missed == 0
        fired.append(due)
        due = decision.next_run_at
    assert [t.second for t in fired] == [1, 2, 3, 4]  # none dropped
    assert due == utc("2026-05-04T10:00:05")


def test_decide_late_with_skip_does_not_fire_and_counts_every_overdue_run() -> None:
    now = utc("2026-05-04T11:02")
    decision = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:05"),
        now=now,
        anchor=ANCHOR,
        misfire="skip",
        grace_s=60,
    )
    # Overdue: 10:05, 10:10, ..., 11:00.
    assert decision == Decision(fire=False, next_run_at=utc("2026-05-04T11:05"), missed=12)
    assert decision.next_run_at is not None and decision.next_run_at > now


def test_decide_late_with_once_fires_a_single_catch_up_run() -> None:
    now = utc("2026-05-04T11:02")
    decision = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:05"),
        now=now,
        anchor=ANCHOR,
        misfire="once",
        grace_s=60,
    )
    assert decision == Decision(fire=True, next_run_at=utc("2026-05-04T11:05"), missed=11)
    # Late by just one run: fire it, nothing missed.
    one = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:05"),
        now=utc("2026-05-04T10:08"),
        anchor=ANCHOR,
        misfire="once",
        grace_s=60,
    )
    assert one == Decision(fire=True, next_run_at=utc("2026-05-04T10:10"), missed=0)


def test_decide_late_across_the_fall_back_counts_the_repeated_time_once() -> None:
    timing = Timing(cron="30 2 * * *", timezone="Europe/Paris")
    decision = decide(
        timing,
        due_at=utc("2026-10-24T00:30"),
        now=utc("2026-10-27T00:00"),
        anchor=ANCHOR,
        misfire="skip",
        grace_s=300,
    )
    # 10-24 00:30Z, 10-25 00:30Z (not 01:30Z too), 10-26 01:30Z.
    assert decision == Decision(fire=False, next_run_at=utc("2026-10-27T01:30"), missed=3)


def test_decide_counts_an_off_grid_due_at_as_overdue() -> None:
    # The schedule was edited: its stored next run 10:02 is not on the new grid.
    decision = decide(
        EVERY_5_MIN,
        due_at=utc("2026-05-04T10:02"),
        now=utc("2026-05-04T10:12"),
        anchor=ANCHOR,
        misfire="once",
        grace_s=60,
    )
    # 10:02 itself, 10:05 and 10:10.
    assert decision == Decision(fire=True, next_run_at=utc("2026-05-04T10:15"), missed=2)


def test_decide_for_an_ended_schedule() -> None:
    timing = Timing(interval_s=300, end_at=utc("2026-05-04T10:30"))
    ended = decide(
        timing,
        due_at=utc("2026-05-04T10:35"),
        now=utc("2026-05-04T11:00"),
        anchor=ANCHOR,
        misfire="once",
        grace_s=60,
    )
    assert ended == Decision(fire=False, next_run_at=None, missed=0)
    # The last run fires on time; there is no next one.
    last = decide(
        timing,
        due_at=utc("2026-05-04T10:30"),
        now=utc("2026-05-04T10:30:05"),
        anchor=ANCHOR,
        misfire="skip",
        grace_s=60,
    )
    assert last == Decision(fire=True, next_run_at=None, missed=0)
    # Late past the end: only the runs up to end_at were missed.
    late = decide(
        timing,
        due_at=utc("2026-05-04T10:20"),
        now=utc("2026-05-04T12:00"),
        anchor=ANCHOR,
        misfire="skip",
        grace_s=60,
    )
    assert late == Decision(fire=False, next_run_at=None, missed=3)


def test_decide_rejects_a_due_at_in_the_future_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="after now"):
        decide(
            EVERY_5_MIN,
            due_at=utc("2026-05-04T10:10"),
            now=utc("2026-05-04T10:05"),
            anchor=ANCHOR,
            misfire="skip",
            grace_s=60,
        )
    with pytest.raises(ValueError, match="grace_s"):
        decide(
            EVERY_5_MIN,
            due_at=utc("2026-05-04T10:05"),
            now=utc("2026-05-04T10:05"),
            anchor=ANCHOR,
            misfire="skip",
            grace_s=-1,
        )


# --- describe ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timing", "text"),
    [
        (Timing(interval_s=90), "every 90 s"),
        (Timing(interval_s=1), "every 1 s"),
        (Timing(interval_s=300), "every 5 min"),
        (Timing(interval_s=300.0), "every 5 min"),
        (Timing(interval_s=5400), "every 90 min"),
        (Timing(interval_s=3600), "every 1 h"),
        (Timing(interval_s=7 * 3600), "every 7 h"),
        (Timing(interval_s=2 * 86400), "every 2 d"),
        (Timing(interval_s=1.5), "every 1.5 s"),
        (Timing(cron="0 2 * * *", timezone="Europe/Paris"), "cron '0 2 * * *' (Europe/Paris)"),
        (Timing(cron="*/5 * * * *"), "cron '*/5 * * * *' (UTC)"),
    ],
)
def test_describe(timing: Timing, text: str) -> None:
    assert describe(timing) == text


def test_describe_needs_exactly_one_kind() -> None:
    with pytest.raises(ScheduleError) as caught:
        describe(Timing())
    assert caught.value.field == "timing"


@pytest.mark.parametrize(
    ("status", "age_s", "expected"),
    [
        ("running", 3600, True),  # however long it runs
        ("queued", 10, True),
        ("retrying", 10, True),
        ("queued", 600, False),  # stuck behind a lost message: housekeeping's business
        ("succeeded", 1, False),
        ("failed", 1, False),
    ],
)
def test_a_previous_job_stuck_in_its_queue_does_not_hold_a_schedule_back(
    status: str, age_s: float, expected: bool
) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert still_running(status, now - timedelta(seconds=age_s), now=now) is expected
