"""Schedules: periodic jobs added, changed, paused and run at runtime, with their runs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from api.deps import ProducerDep, SessionDep, require
from api.schemas.jobs import JobOut, JobPage
from api.schemas.schedules import ScheduleList, ScheduleOut
from core import jobs, schedules
from core.kinds import get_kind
from core.schedules import ScheduleIn, SchedulePatch
from core.tables import Job, utcnow

router = APIRouter(tags=["schedules"])
logger = logging.getLogger("triops.api")


def _out(session: Session, row: Any) -> ScheduleOut:
    statuses = schedules.last_statuses(session=session, rows=[row])
    return ScheduleOut.model_validate(schedules.view(row, statuses))


@router.get("/schedules", dependencies=[require("read")], response_model=ScheduleList)
def list_schedules(session: SessionDep, kind: str | None = None) -> ScheduleList:
    """Every schedule, built-in ones (written by beat at start) first, with next run and
    last status."""
    if kind:
        get_kind(kind)  # an unknown kind is a 422 listing the known ones, not an empty list
    rows = schedules.list_all(session=session, kind=kind)
    statuses = schedules.last_statuses(session=session, rows=rows)
    return ScheduleList(
        schedules=[ScheduleOut.model_validate(schedules.view(r, statuses)) for r in rows]
    )


@router.post(
    "/schedules",
    dependencies=[require("submit")],
    response_model=ScheduleOut,
    status_code=status.HTTP_201_CREATED,
)
def create_schedule(body: ScheduleIn, session: SessionDep) -> ScheduleOut:
    """Add a schedule; its params are validated against the kind (422 otherwise)."""
    row = schedules.create(session=session, data=body, now=utcnow())
    session.commit()
    return _out(session, row)


@router.get("/schedules/{ref}", dependencies=[require("read")], response_model=ScheduleOut)
def get_schedule(ref: str, session: SessionDep) -> ScheduleOut:
    """One schedule, by id or name."""
    return _out(session, schedules.get(session=session, ref=ref))


@router.patch("/schedules/{ref}", dependencies=[require("submit")], response_model=ScheduleOut)
def change_schedule(ref: str, body: SchedulePatch, session: SessionDep) -> ScheduleOut:
    """Change a schedule; a new timing restarts its clock from now. Running beats see it
    at their next tick (within a second)."""
    row = schedules.change(session=session, ref=ref, patch=body, now=utcnow())
    session.commit()
    return _out(session, row)


@router.delete(
    "/schedules/{ref}", dependencies=[require("submit")], status_code=status.HTTP_204_NO_CONTENT
)
def delete_schedule(ref: str, session: SessionDep) -> Response:
    """Delete a schedule (its runs stay in the jobs list); built-in ones can be paused only."""
    schedules.delete(session=session, ref=ref)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/schedules/{ref}/pause", dependencies=[require("submit")], response_model=ScheduleOut)
def pause_schedule(ref: str, session: SessionDep) -> ScheduleOut:
    """Pause: running beats stop firing it at their next tick."""
    return _set_enabled(session, ref, enabled=False)


@router.post(
    "/schedules/{ref}/resume", dependencies=[require("submit")], response_model=ScheduleOut
)
def resume_schedule(ref: str, session: SessionDep) -> ScheduleOut:
    """Resume from now: runs missed while paused are not caught up."""
    return _set_enabled(session, ref, enabled=True)


def _set_enabled(session: Session, ref: str, *, enabled: bool) -> ScheduleOut:
    patch = SchedulePatch(enabled=enabled)
    row = schedules.change(session=session, ref=ref, patch=patch, now=utcnow())
    session.commit()
    return _out(session, row)


@router.post(
    "/schedules/{ref}/run-now",
    dependencies=[require("submit")],
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def run_schedule_now(ref: str, session: SessionDep, producer: ProducerDep) -> Job:
    """Run the schedule's job now (paused or not); its timing does not change."""
    return schedules.run_now(session=session, producer=producer, ref=ref, now=utcnow())


@router.get("/schedules/{ref}/runs", dependencies=[require("read")], response_model=JobPage)
def schedule_runs(
    ref: str,
    session: SessionDep,
    status_filter: str | None = Query(default=None, alias="status"),
    limit: int = 50,
    cursor: str | None = None,
) -> JobPage:
    """Every firing of the schedule is a job: newest first, with its status."""
    row = schedules.get(session=session, ref=ref)
    page = jobs.list_jobs(
        session=session, schedule_id=row.id, status=status_filter, limit=limit, cursor=cursor
    )
    return JobPage(jobs=[JobOut.model_validate(j) for j in page.jobs], next_cursor=page.next_cursor)
