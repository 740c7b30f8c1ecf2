"""Schedules: periodic jobs kept in SQL, changed at runtime, each firing run exactly once.

Any number of beat processes may run. Each tick reads the due schedules; a firing is
claimed by a conditional UPDATE of the schedule's `next_run_at` (only the process that
still sees the due time it read wins) in the same transaction that writes the firing's
job row — and a unique index on (schedule_id, scheduled_for) backs it. Then the message
is sent; a send that fails leaves a queued row housekeeping re-sends.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import jobs
from core.errors import Conflict, NotFound, TriopsError, Unavailable
from core.kinds import CATALOG, get_kind
from core.submission import prepare, send
from core.tables import Job, JobStatus, Schedule
from core.validation import human_pattern
from domain.schedules import Timing, check_timing, decide, describe, next_fire, still_running

logger = logging.getLogger("triops.schedules")

Name = Annotated[
    str,
    StringConstraints(
        pattern=human_pattern(
            r"^[a-z0-9][a-z0-9._-]{0,99}$",
            "{input} is not a schedule name: lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, up to 100",
        )
    ),
]
MAX_INTERVAL_S = 10 * 366 * 86400


class ScheduleIn(BaseModel):
    """A schedule as a user writes it."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="Unique; lower-case letters, digits, '.', '_', '-'.")
    kind: str = Field(description="The job kind to run, e.g. aiops.parse_logs.")
    params: dict[str, Any] = Field(default_factory=dict, description="The job's params.")
    interval_s: float | None = Field(
        default=None, le=MAX_INTERVAL_S, description="Seconds between runs (at most ten years)."
    )
    cron: str | None = Field(
        default=None, max_length=200, description="Five fields: minute hour day month weekday."
    )
    timezone: str = Field(default="UTC", max_length=64, description="The cron's IANA zone.")
    enabled: bool = True
    overlap: Literal["skip", "allow"] = Field(
        default="skip", description="skip: no new run while the previous one is unfinished."
    )
    misfire: Literal["skip", "once"] = Field(
        default="once", description="After downtime: run once for the missed runs, or skip."
    )
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    description: str | None = Field(default=None, max_length=500)


class SchedulePatch(BaseModel):
    """Fields to change; timing changes restart the schedule's clock from now."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    kind: str | None = None
    params: dict[str, Any] | None = None
    interval_s: float | None = Field(default=None, le=MAX_INTERVAL_S)
    cron: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None
    overlap: Literal["skip", "allow"] | None = None
    misfire: Literal["skip", "once"] | None = None
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
    description: str | None = Field(default=None, max_length=500)


TIMING_FIELDS = ("interval_s", "cron", "timezone", "start_at", "end_at")


def timing_of(row: Schedule) -> Timing:
    return Timing(
        interval_s=row.interval_s,
        cron=row.cron,
        timezone=row.timezone,
        start_at=row.start_at,
        end_at=row.end_at,
    )


def get(*, session: Session, ref: str) -> Schedule:
    """A schedule by id or by name."""
    row = session.get(Schedule, ref) or session.scalar(select(Schedule).where(Schedule.name == ref))
    if row is None:
        raise NotFound(f"schedule {ref!r} not found")
    return row


def list_all(*, session: Session, kind: str | None = None) -> list[Schedule]:
    query = select(Schedule).order_by(Schedule.builtin.desc(), Schedule.name)
    if kind:
        query = query.where(Schedule.kind == kind)
    return list(session.scalars(query))


def create(*, session: Session, data: ScheduleIn, now: datetime) -> Schedule:
    """Validate the timing and the params against the kind, then store the schedule."""
    timing = Timing(data.interval_s, data.cron, data.timezone, data.start_at, data.end_at)
    check_timing(timing)
    _, model = prepare(session=session, kind_name=data.kind, params=data.params)
    params = model.model_dump(mode="json")
    if session.scalar(select(Schedule.id).where(Schedule.name == data.name)) is not None:
        raise Conflict(f"a schedule named {data.name!r} exists")
    row = Schedule(
        **data.model_dump(exclude={"params"}),
        params=params,
        builtin=False,
        anchor_at=now,
        next_run_at=next_fire(timing, after=now, anchor=now) if data.enabled else None,
        missed_runs=0,
        skipped_runs=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    _flush_unique(session, data.name)
    return row


def _flush_unique(session: Session, name: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"a schedule named {name!r} exists") from exc


def change(*, session: Session, ref: str, patch: SchedulePatch, now: datetime) -> Schedule:
    """Apply a PATCH; built-in schedules come from settings and can only be paused."""
    row = get(session=session, ref=ref)
    values = patch.model_dump(exclude_unset=True)
    if row.builtin and set(values) - {"enabled"}:
        raise Conflict(
            f"{row.name} is built in (from settings): it can be paused and resumed, "
            "not changed; change its setting instead",
            details={"fields": sorted(set(values) - {"enabled"})},
        )
    if "interval_s" in values and values["interval_s"] is not None:
        values.setdefault("cron", None)
    elif "cron" in values and values["cron"] is not None:
        values.setdefault("interval_s", None)
    merged = {f: values.get(f, getattr(row, f)) for f in TIMING_FIELDS}
    timing = Timing(**merged)
    check_timing(timing)
    kind = values.get("kind", row.kind)
    if "kind" in values or "params" in values:
        _, model = prepare(session=session, kind_name=kind, params=values.get("params", row.params))
        values["params"] = model.model_dump(mode="json")
    renamed = values.get("name", row.name) != row.name
    if renamed and session.scalar(select(Schedule.id).where(Schedule.name == values["name"])):
        raise Conflict(f"a schedule named {values['name']!r} exists")
    retimed = any(f in values for f in TIMING_FIELDS)
    resumed = values.get("enabled") is True and not row.enabled
    for key, value in values.items():
        setattr(row, key, value)
    if retimed:
        row.anchor_at = now
    if not row.enabled:
        row.next_run_at = None
    elif retimed or resumed or row.next_run_at is None:
        row.next_run_at = next_fire(timing, after=now, anchor=row.anchor_at)
    row.updated_at = now
    _flush_unique(session, row.name)
    return row


def delete(*, session: Session, ref: str) -> None:
    row = get(session=session, ref=ref)
    if row.builtin:
        raise Conflict(f"{row.name} is built in (from settings): pause it instead")
    session.delete(row)


def last_statuses(*, session: Session, rows: list[Schedule]) -> dict[str, str]:
    """The status of each schedule's last run, by job id."""
    ids = [r.last_job_id for r in rows if r.last_job_id]
    if not ids:
        return {}
    found = session.execute(select(Job.id, Job.status).where(Job.id.in_(ids))).all()
    return {job_id: status for job_id, status in found}


def view(row: Schedule, statuses: dict[str, str]) -> dict[str, Any]:
    """A schedule as the API shows it: its fields, when it runs next and how it last ran."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "params": row.params,
        "interval_s": row.interval_s,
        "cron": row.cron,
        "timezone": row.timezone,
        "every": describe(timing_of(row)),
        "enabled": row.enabled,
        "overlap": row.overlap,
        "misfire": row.misfire,
        "start_at": row.start_at,
        "end_at": row.end_at,
        "builtin": row.builtin,
        "description": row.description,
        "next_run_at": row.next_run_at,
        "last_run_at": row.last_run_at,
        "last_job_id": row.last_job_id,
        "last_status": statuses.get(row.last_job_id or ""),
        "missed_runs": row.missed_runs,
        "skipped_runs": row.skipped_runs,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


# --- firing ------------------------------------------------------------------------------


def due(*, session: Session, now: datetime, limit: int = 100) -> list[tuple[str, datetime]]:
    """(id, next_run_at) of enabled schedules due by `now`, earliest first."""
    rows = session.execute(
        select(Schedule.id, Schedule.next_run_at)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
        .order_by(Schedule.next_run_at)
        .limit(limit)
    ).all()
    return [(i, at) for i, at in rows if at is not None]


def next_due(*, session: Session) -> datetime | None:
    """The earliest next run of an enabled schedule."""
    return session.scalar(
        select(Schedule.next_run_at)
        .where(Schedule.enabled.is_(True), Schedule.next_run_at.is_not(None))
        .order_by(Schedule.next_run_at)
        .limit(1)
    )


def fire(
    *,
    session: Session,
    producer: Any,
    schedule_id: str,
    due_at: datetime,
    now: datetime,
    grace_s: float,
) -> Job | None:
    """Claim one due firing and submit its job; None when another scheduler claimed it,
    or the firing is skipped (overlap, misfire) — counted on the schedule."""
    if session.get_bind().dialect.name == "postgresql":
        # A scheduler that dies mid-claim (its host lost, say) must not hold the row for
        # long: its open transaction is ended by the server after 15 s, and another
        # scheduler waits at most 2 s for the row before trying again at its next tick.
        session.execute(text("SET LOCAL idle_in_transaction_session_timeout = '15s'"))
        session.execute(text("SET LOCAL lock_timeout = '2s'"))
    row = session.get(Schedule, schedule_id)
    if row is None or not row.enabled or row.next_run_at != due_at:
        return None
    decision = decide(
        timing_of(row),
        due_at=due_at,
        now=now,
        anchor=row.anchor_at,
        misfire="skip" if row.misfire == "skip" else "once",
        grace_s=grace_s,
    )
    firing = decision.fire
    skipped = 0
    if firing and row.kind not in CATALOG:  # a kind gone since (an upgrade): counted, logged
        logger.warning("schedule %s: kind %s is not in the catalog; skipped", row.name, row.kind)
        firing, skipped = False, 1
    if firing and row.overlap == "skip" and row.last_job_id:
        previous = session.get(Job, row.last_job_id)
        if previous is not None and still_running(previous.status, previous.updated_at, now=now):
            firing, skipped = False, 1
    values: dict[str, Any] = {
        "next_run_at": decision.next_run_at,
        "missed_runs": Schedule.missed_runs + decision.missed,
        "skipped_runs": Schedule.skipped_runs + skipped,
    }
    if firing:
        values["last_run_at"] = now
    claimed = session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.next_run_at == due_at)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    if not firing:
        session.commit()
        return None
    job = _firing_job(session, row, scheduled_for=due_at)
    session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .values(last_job_id=job.id)
        .execution_options(synchronize_session=False)
    )
    try:
        session.commit()
    except IntegrityError:  # the firing is recorded already (unique schedule + due time)
        session.rollback()
        return None
    _send(session, producer, job, now)
    return job


def run_now(*, session: Session, producer: Any, ref: str, now: datetime) -> Job:
    """Run a schedule's job at once (paused or not); its timing is unchanged."""
    row = get(session=session, ref=ref)
    job = _firing_job(session, row, scheduled_for=None)
    row.last_job_id = job.id
    row.last_run_at = now
    session.commit()
    _send(session, producer, job, now, raise_unavailable=True)
    return job


def _firing_job(session: Session, row: Schedule, *, scheduled_for: datetime | None) -> Job:
    """The job row of a firing. Params the kind no longer accepts (the kind changed since)
    make a failed run, so the history shows it and the schedule keeps its clock."""
    kind = get_kind(row.kind)
    error = None
    try:
        params = kind.validate(row.params).model_dump(mode="json")
    except TriopsError as exc:
        params, error = row.params, exc.to_dict()
    job, _ = jobs.create_job(
        session=session, kind=kind, params=params, origin=f"schedule:{row.name}"
    )
    job.schedule_id = row.id
    job.scheduled_for = scheduled_for
    if error is not None:
        job.status = JobStatus.FAILED
        job.error = error
        job.finished_at = job.created_at
    session.flush()
    return job


def _send(
    session: Session, producer: Any, job: Job, now: datetime, *, raise_unavailable: bool = False
) -> None:
    if job.status != JobStatus.QUEUED:
        return
    try:
        send(producer=producer, job=job)
    except Unavailable:
        # The row stays queued; housekeeping re-sends its message once Redis is back.
        logger.warning("schedule firing %s: broker unavailable, left for housekeeping", job.id)
        if raise_unavailable:
            raise
        return
    jobs.mark_enqueued(session=session, job=job, now=now)
    session.commit()


# --- built-in schedules -------------------------------------------------------------------


def sync_builtins(*, session: Session, entries: list[dict[str, Any]], now: datetime) -> None:
    """Make the built-in schedules match `entries` (from settings): add new ones, update
    what changed (keeping paused ones paused), and remove those no longer configured."""
    wanted = {e["name"]: e for e in entries}
    existing = {
        r.name: r for r in session.scalars(select(Schedule).where(Schedule.builtin.is_(True)))
    }
    for name, row in existing.items():
        if name not in wanted:
            session.delete(row)
    for name, entry in wanted.items():
        timing = Timing(interval_s=entry.get("interval_s"), cron=entry.get("cron"))
        check_timing(timing)
        found = existing.get(name)
        if found is None:
            clash = session.scalar(select(Schedule).where(Schedule.name == name))
            if clash is not None:
                logger.warning("built-in schedule %s: a user schedule has the name", name)
                continue
            session.add(
                Schedule(
                    name=name,
                    kind=entry["kind"],
                    params=entry.get("params", {}),
                    interval_s=timing.interval_s,
                    cron=timing.cron,
                    timezone="UTC",
                    enabled=True,
                    overlap="skip",
                    misfire="once",
                    builtin=True,
                    description=entry.get("description"),
                    anchor_at=now,
                    next_run_at=next_fire(timing, after=now, anchor=now),
                    missed_runs=0,
                    skipped_runs=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            continue
        row = found
        same = (
            row.kind == entry["kind"]
            and row.params == entry.get("params", {})
            and timing_of(row) == Timing(timing.interval_s, timing.cron, row.timezone)
        )
        if same:
            continue
        row.kind, row.params = entry["kind"], entry.get("params", {})
        row.interval_s, row.cron, row.anchor_at = timing.interval_s, timing.cron, now
        row.description = entry.get("description")
        row.next_run_at = next_fire(timing, after=now, anchor=now) if row.enabled else None
        row.updated_at = now
