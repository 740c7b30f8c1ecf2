"""The three worker pools and what each is tuned for.

    aiops    many short jobs: one process per core, prefetch 4 so a process always has work;
             a child is replaced once it holds more than its memory cap
    mlops    CPU-heavy training: one process, prefetch 1, children recycled after N tasks
             (scikit-learn and BLAS keep memory a long time)
    dataops  pandas and I/O: two processes, prefetch 1, a child is replaced once it holds
             more than the memory cap, so one large file cannot starve the host

Every pool also consumes the `system` queue (canary, housekeeping, retention).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Settings, workers_per_pool_default
from core.kinds import POOL_QUEUES, SYSTEM_QUEUE


@dataclass(frozen=True)
class Pool:
    name: str
    concurrency: int
    prefetch_multiplier: int
    max_tasks_per_child: int | None = None
    max_memory_per_child_kb: int | None = None

    @property
    def queues(self) -> tuple[str, ...]:
        return (self.name, SYSTEM_QUEUE)

    def worker_argv(self, *, loglevel: str = "INFO", task_events: bool = False) -> list[str]:
        """Arguments of `celery worker` for this pool (`task_events`: publish task events
        from the start, rather than once Flower asks for them)."""
        argv = [
            "worker",
            f"--hostname={self.name}@%h",
            f"--queues={','.join(self.queues)}",
            f"--concurrency={self.concurrency}",
            f"--prefetch-multiplier={self.prefetch_multiplier}",
            f"--loglevel={loglevel}",
            "--pool=prefork",
            "--without-mingle",
            "--without-gossip",
        ]
        if task_events:
            argv.append("--task-events")
        if self.max_tasks_per_child:
            argv.append(f"--max-tasks-per-child={self.max_tasks_per_child}")
        if self.max_memory_per_child_kb:
            argv.append(f"--max-memory-per-child={self.max_memory_per_child_kb}")
        return argv


def pools(settings: Settings) -> dict[str, Pool]:
    defined = {
        "aiops": Pool(
            "aiops",
            concurrency=workers_per_pool_default(settings.aiops_concurrency),
            prefetch_multiplier=4,
            max_memory_per_child_kb=settings.aiops_max_memory_per_child_kb,
        ),
        "mlops": Pool(
            "mlops",
            concurrency=workers_per_pool_default(settings.mlops_concurrency),
            prefetch_multiplier=1,
            max_tasks_per_child=settings.mlops_max_tasks_per_child,
        ),
        "dataops": Pool(
            "dataops",
            concurrency=workers_per_pool_default(settings.dataops_concurrency),
            prefetch_multiplier=1,
            max_memory_per_child_kb=settings.dataops_max_memory_per_child_kb,
        ),
    }
    assert tuple(defined) == POOL_QUEUES
    return defined
