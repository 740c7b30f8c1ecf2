"""The Celery configuration every process shares."""

from __future__ import annotations

from pathlib import Path

from core.broker import celery_config
from core.config import Settings
from core.liveness import HEARTBEAT_S, INSTANCE_TTL_S, RESTORE_INTERVAL_S


def test_a_dead_workers_messages_come_back_within_half_a_minute(tmp_path: Path) -> None:
    transport = celery_config(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))[
        "broker_transport_options"
    ]
    # Live workers refresh what they hold more than twice per visibility timeout...
    assert transport["visibility_timeout"] > 2 * HEARTBEAT_S
    assert INSTANCE_TTL_S >= 2 * HEARTBEAT_S
    # ...and a dead worker's messages are swept back within ~30 s of its last beat.
    assert transport["visibility_timeout"] + RESTORE_INTERVAL_S <= 30
    assert transport["unacked_restore_throttle"] == 1


def test_the_broker_accepts_json_only_and_acknowledges_late(tmp_path: Path) -> None:
    config = celery_config(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert config["accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert not config["worker_send_task_events"] and not config["task_send_sent_event"]
    watched = celery_config(
        Settings.from_env({"TRIOPS_HOME": str(tmp_path), "TRIOPS_TASK_EVENTS": "1"})
    )
    assert watched["worker_send_task_events"] and watched["task_send_sent_event"]
    assert config["task_routes"]["mlops.train"] == {"queue": "mlops"}
