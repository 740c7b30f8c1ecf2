"""`system.*` kinds: the canary, housekeeping and artifact retention."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import current_app

from core import artifacts, jobs, liveness, pipelines
from core.broker import message_ids_in_broker
from core.errors import InvalidInput, Unavailable
from core.kinds import CATALOG, POOL_QUEUES, SYSTEM_QUEUE
from core.kinds.system import EchoParams, HousekeepingParams, RetentionParams
from core.liveness import VISIBILITY_TIMEOUT_S
from core.storage import artifact_store
from core.submission import send
from core.tables import JobStatus
from domain.housekeeping import (
    Action,
    QueuedJob,
    decide_queued,
    decide_running,
    is_stale_running,
)
from tasks.base import JobContext, job_task


@job_task("system.echo")
def echo(ctx: JobContext, params: EchoParams) -> dict[str, Any]:
    """Return the payload; wait first if asked, or fail on purpose."""
    deadline = time.monotonic() + params.sleep_s
    while (left := deadline - time.monotonic()) > 0:
        ctx.progress(1 - left / params.sleep_s, "waiting")
        time.sleep(min(0.2, left))
    if params.exit_process:
        if not ctx.settings.fault_drills:
            raise InvalidInput("exit_process is a fault drill: set TRIOPS_FAULT_DRILLS=1")
        os._exit(17)  # as a crash would: no cleanup, no acknowledgement
    if ctx.attempt <= params.transient_failures:
        raise Unavailable(f"simulated outage on attempt {ctx.attempt}")
    if params.fail_with is not None:
        raise InvalidInput(params.fail_with)
    return {"payload": params.payload, "worker": ctx.worker, "attempt": ctx.attempt}


@job_task("system.housekeeping")
def housekeeping(ctx: JobContext, params: HousekeepingParams) -> dict[str, Any]:
    """Re-send or fail queued jobs whose message is gone; fail running jobs nobody runs."""
    settings = ctx.settings
    lost_after_s = params.lost_after_s or settings.lost_job_after_s
    now = ctx.now()
    present = message_ids_in_broker(current_app, [*POOL_QUEUES, SYSTEM_QUEUE])
    resent: list[str] = []
    failed: list[str] = []
    with ctx.session() as session:
        for job in jobs.queued_before(session=session, before=jobs.age_cutoff(now, lost_after_s)):
            if job.id == ctx.job_id or pipelines.waits_for_earlier_step(session=session, job=job):
                continue
            action = decide_queued(
                QueuedJob(job.id, job.updated_at, job.resends),
                in_broker=job.id in present,
                now=now,
                lost_after_s=lost_after_s,
                max_resends=settings.max_resends,
            )
            if action is Action.RESEND:
                job.resends += 1
                job.updated_at = now
                job.note = f"message lost; re-sent by housekeeping at {now.isoformat()}"
                session.commit()
                send(producer=current_app, job=job)
                resent.append(job.id)
            elif action is Action.FAIL:
                jobs.finish_job(
                    session=session,
                    job_id=job.id,
                    status=JobStatus.FAILED,
                    now=now,
                    error={
                        "type": "MessageLost",
                        "message": f"broker message lost {job.resends} times; gave up",
                    },
                )
                failed.append(job.id)
        with current_app.connection_for_read() as conn:
            alive = liveness.alive_instances(conn.default_channel.client)
        for job in jobs.running(session=session):
            if job.lease is None:  # started before leases existed: the time-limit rule
                kind = CATALOG.get(job.kind)
                action = (
                    Action.FAIL
                    if is_stale_running(
                        updated_at=job.updated_at,
                        in_broker=job.id in present,
                        now=now,
                        time_limit_s=kind.time_limit_s if kind else 3600.0,
                        grace_s=float(VISIBILITY_TIMEOUT_S),
                    )
                    else Action.KEEP
                )
            else:
                action = decide_running(
                    lease_alive=liveness.lease_alive(job.lease, alive, me=None),
                    in_broker=job.id in present,
                    started_at=job.started_at or job.updated_at,
                    now=now,
                    resends=job.resends,
                    max_resends=settings.max_resends,
                    settle_s=2 * liveness.INSTANCE_TTL_S,
                )
            if action is Action.RESEND:
                jobs.requeue(
                    session=session,
                    job=job,
                    now=now,
                    note=(
                        f"its worker died and its message was gone; re-sent by housekeeping at "
                        f"{now.isoformat()}"
                    ),
                )
                session.commit()
                send(producer=current_app, job=job)
                resent.append(job.id)
            elif action is Action.FAIL:
                jobs.finish_job(
                    session=session,
                    job_id=job.id,
                    status=JobStatus.FAILED,
                    now=now,
                    error={
                        "type": "WorkerLost",
                        "message": "its worker died and no worker finished the job",
                    },
                )
                failed.append(job.id)
    return {"resent": resent, "failed": failed, "messages_in_broker": len(present)}


@job_task("system.retention")
def retention(ctx: JobContext, params: RetentionParams) -> dict[str, Any]:
    """Delete the artifacts of finished jobs older than the retention period."""
    days = params.older_than_days or ctx.settings.artifact_retention_days
    cutoff = jobs.age_cutoff(ctx.now(), days * 86400)
    store = artifact_store(ctx.settings)
    cleaned: list[str] = []
    deleted = 0
    with ctx.session() as session:
        for job in jobs.finished_before(session=session, before=cutoff):
            store.delete_folder(job.id)
            deleted += artifacts.delete_artifacts(session=session, job_id=job.id)
            job.note = f"artifacts deleted by retention at {ctx.now().isoformat()}"
            cleaned.append(job.id)
    return {"jobs": len(cleaned), "artifacts_deleted": deleted, "older_than_days": days}
