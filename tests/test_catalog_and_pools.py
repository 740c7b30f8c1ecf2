from __future__ import annotations

from pathlib import Path

import pytest

from core.broker import celery_config, visibility_timeout_s
from core.config import Settings
from core.errors import InvalidInput
from core.kinds import CATALOG, POOL_QUEUES, SYSTEM_QUEUE, get_kind, longest_time_limit_s
from workers.pools import pools


def test_every_kind_routes_to_a_pool_queue_or_the_system_queue() -> None:
    for kind in CATALOG.values():
        assert kind.queue in (*POOL_QUEUES, SYSTEM_QUEUE)
        assert kind.name.split(".")[0] in (*POOL_QUEUES, "system")
        assert kind.soft_time_limit_s < kind.time_limit_s


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_kind("nope")
    assert "system.echo" in caught.value.details["known_kinds"]


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


def test_each_pool_serves_its_queue_and_the_system_queue_with_its_own_tuning(
    tmp_path: Path,
) -> None:
    defined = pools(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert tuple(defined) == POOL_QUEUES
    assert defined["mlops"].prefetch_multiplier == 1 and defined["mlops"].concurrency == 1
    assert defined["mlops"].max_tasks_per_child
    assert defined["dataops"].max_memory_per_child_kb
    argv = defined["aiops"].worker_argv()
    assert "--queues=aiops,system" in argv
    assert "--hostname=aiops@%h" in argv
    assert "--task-events" in argv
