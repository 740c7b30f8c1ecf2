"""A task revoked or terminated through Celery control ends `cancelled` in its row.

`POST /jobs/{id}/cancel` marks the row itself, but Flower's "revoke"/"terminate" buttons
and `celery control revoke` only tell the workers. Celery then sends `task_revoked` in
the worker's main process (for a running task it terminated, and for a queued message it
drops because its id is in the revoked set); this handler records it. It is idempotent:
a row already finished (succeeded, failed, cancelled) is left as it is, and a message
redelivered later finds the row `cancelled` and is dropped by `JobTask`.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_revoked

from core import jobs, pipelines
from core.config import get_settings
from core.db import session_scope
from core.tables import utcnow

logger = logging.getLogger("triops.revokes")


def revoke_message(*, terminated: bool, signum: Any, expired: bool) -> str:
    """The reason written in the job's error."""
    if expired:
        return "expired before it ran"
    if terminated:
        return f"terminated through Celery control (signal {signum})"
    return "revoked through Celery control"


@task_revoked.connect
def record_revoke(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    signum: Any = None,
    expired: bool = False,
    **_: Any,
) -> None:
    job_id = getattr(request, "id", None)
    if not job_id:
        return
    message = revoke_message(terminated=terminated, signum=signum, expired=expired)
    try:
        with session_scope(get_settings()) as session:
            if jobs.cancel_unfinished(
                session=session, job_id=job_id, now=utcnow(), message=message
            ):
                pipelines.skip_rest_of_pipeline(session=session, job_id=job_id, now=utcnow())
                logger.info("job %s %s", job_id, message, extra={"status": "cancelled"})
    except Exception:
        logger.exception("job %s: could not record its revoke", job_id)
