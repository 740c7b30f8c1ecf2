"""The worker side of `core/liveness.py`: a Celery consumer step that beats.

Every `HEARTBEAT_S` seconds, in the worker's main process (on the consumer's timer, so
a main process that stops, freezes or loses its host stops beating), it marks the
worker instance alive and refreshes every message the worker holds in the broker's
index of unacknowledged messages. On a clean stop it forgets the instance at once.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from typing import Any, ClassVar

from celery import bootsteps
from celery.signals import worker_process_init

from core import liveness

logger = logging.getLogger("triops.liveness")

PR_SET_PDEATHSIG = 1


@worker_process_init.connect
def _die_with_the_worker(**_: Any) -> None:
    """A pool process dies at once with its worker's main process: an orphan finishing
    its job while another worker takes the job over would run it twice."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the main process is already gone
        os._exit(1)


class Heartbeat(bootsteps.StartStopStep):
    """Beat for this worker instance while its consumer runs."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer_ref: Any = None
        self.instance = liveness.current_instance()

    def start(self, c: Any) -> None:
        if self.instance is None:  # not started by `triops worker`: nothing to lease
            return
        self.tick(c)
        self.timer_ref = c.timer.call_repeatedly(liveness.HEARTBEAT_S, self.tick, (c,))

    def stop(self, c: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
        if self.instance is not None:
            try:
                with c.app.connection_for_write() as conn:
                    liveness.forget(conn.default_channel.client, self.instance)
            except Exception:  # the broker is down: the entry expires on its own
                logger.debug("could not forget %s", self.instance, exc_info=True)

    def tick(self, c: Any) -> None:
        assert self.instance is not None
        try:
            channel = c.task_consumer.channel
            held = [str(tag) for tag in list(channel.qos._delivered)]
            pids = (c.pool.info or {}).get("processes", []) if c.pool is not None else []
            with channel.conn_or_acquire() as client:
                liveness.beat(
                    client,
                    self.instance,
                    pids=pids,
                    held_tags=held,
                    index_key=channel.unacked_index_key,
                )
        except Exception:  # the broker is away: the next beat tries again
            logger.warning("heartbeat of %s failed", self.instance, exc_info=True)
