"""The Celery configuration every process shares."""

from __future__ import annotations

from pathlib import Path

from core.broker import celery_config, visibility_timeout_s
from core.config import Settings
from core.kinds import longest_time_limit_s


def test_the_visibility_timeout_outlasts_the_longest_hard_time_limit(tmp_path: Path) -> None:
    config = celery_config(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert visibility_timeout_s() > longest_time_limit_s()
    assert config["broker_transport_options"]["visibility_timeout"] == visibility_timeout_s()


def test_the_broker_accepts_json_only_and_acknowledges_late(tmp_path: Path) -> None:
    config = celery_config(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert config["accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_send_task_events"] and config["task_send_sent_event"]
    assert config["task_routes"]["mlops.train"] == {"queue": "mlops"}
