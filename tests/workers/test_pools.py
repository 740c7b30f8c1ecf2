"""The three worker pools and what each is tuned for."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.kinds import POOL_QUEUES
from workers.pools import pools


def test_each_pool_serves_its_queue_and_the_system_queue_with_its_own_tuning(
    tmp_path: Path,
) -> None:
    defined = pools(Settings.from_env({"TRIOPS_HOME": str(tmp_path)}))
    assert tuple(defined) == POOL_QUEUES
    assert defined["mlops"].prefetch_multiplier == 1 and defined["mlops"].concurrency == 1
    assert defined["mlops"].max_tasks_per_child
    assert defined["dataops"].max_memory_per_child_kb
    # Short jobs: a process is replaced for the memory it holds, not every N jobs.
    assert defined["aiops"].max_memory_per_child_kb and not defined["aiops"].max_tasks_per_child
    argv = defined["aiops"].worker_argv()
    assert "--queues=aiops,system" in argv
    assert "--hostname=aiops@%h" in argv
    # Task events are Flower's to switch on (it does while it runs) unless asked for.
    assert "--task-events" not in argv
    assert "--task-events" in defined["aiops"].worker_argv(task_events=True)
