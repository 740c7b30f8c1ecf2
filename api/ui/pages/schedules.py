"""Schedules: next run, last status, missed and skipped runs; pause, resume, run now; a
schedule's run history (every firing is a job)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import ProducerDep, SessionDep
from api.routes import schedules as schedule_routes
from api.ui.common import REFUSALS, done, refusal
from api.ui.render import PREFIX, page, segment
from api.ui.session import ActionDep, ViewerDep, safe_next
from core import jobs, schedules

router = APIRouter()


def listing(session: Session) -> list[dict[str, Any]]:
    rows = schedules.list_all(session=session)
    last = schedules.last_statuses(session=session, rows=rows)
    return [schedules.view(r, last) for r in rows]


@router.get("/schedules")
def schedule_list(
    request: Request, viewer: ViewerDep, session: SessionDep, part: str | None = None
) -> Response:
    context = {"section": "schedules", "schedules": listing(session)}
    return page(request, "schedules.html", context, block="rows" if part else None)


def render_schedule(
    request: Request,
    session: Session,
    ref: str,
    *,
    cursor: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    row = schedules.get(session=session, ref=ref)
    last = schedules.last_statuses(session=session, rows=[row])
    runs = jobs.list_jobs(session=session, schedule_id=row.id, limit=50, cursor=cursor)
    context = {
        "section": "schedules",
        "s": schedules.view(row, last),
        "runs": runs.jobs,
        "next_cursor": runs.next_cursor,
        **extra,
    }
    return page(request, "schedule.html", context, status_code=status_code)


@router.get("/schedules/{ref}")
def schedule_page(
    request: Request, ref: str, viewer: ViewerDep, session: SessionDep, cursor: str | None = None
) -> Response:
    return render_schedule(request, session, ref, cursor=cursor or None)


@router.post("/schedules/{ref}/{move}")
def act(
    request: Request,
    ref: str,
    move: Literal["pause", "resume", "run-now"],
    action: ActionDep,
    session: SessionDep,
    producer: ProducerDep,
) -> Response:
    """Pause, resume or run now, as the API does; back to the page the form was on."""
    back = safe_next(action.field("back") or f"{PREFIX}/schedules/{segment(ref)}")
    try:
        if move == "pause":
            out = schedule_routes.pause_schedule(ref, session)
            said = f"Paused {out.name}: beat stops firing it at its next tick."
        elif move == "resume":
            out = schedule_routes.resume_schedule(ref, session)
            said = f"Resumed {out.name}: next run {out.next_run_at:%Y-%m-%d %H:%M:%S} UTC."
        else:
            job = schedule_routes.run_schedule_now(ref, session, producer)
            return done(request, f"{PREFIX}/jobs/{job.id}", f"Run of {ref} submitted now.")
    except REFUSALS as exc:
        session.rollback()
        code, message, details = refusal(exc)
        if code == 404:
            raise
        return render_schedule(
            request,
            session,
            ref,
            status_code=code,
            error=message,
            error_status=code,
            error_details=details,
        )
    return done(request, back, said)
