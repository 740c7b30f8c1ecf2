"""The job catalog: every kind, declared in its family's module, assembled here.

    core/kinds/kind.py      JobKind: name, queue, params model, limits, submit-time checks
    core/kinds/common.py    params pieces every family shares (file ids, names)
    core/kinds/system.py    system.* kinds (canary, housekeeping, retention)
    core/kinds/aiops.py     aiops.*   — each family module holds its params models, its
    core/kinds/mlops.py     mlops.*     kinds (`KINDS`), their prechecks and the periodic
    core/kinds/dataops.py   dataops.*   work it needs (`schedules(settings)`)

The API validates submissions against `CATALOG` and serves it at `GET /api/v1/kinds`;
the workers derive their queue routing, time limits and task modules from it. Extra
kinds come from modules named in `TRIOPS_PLUGINS` (see `load_plugins`).
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any

from core.config import Settings
from core.errors import InvalidInput
from core.kinds import aiops, dataops, mlops, system
from core.kinds.kind import POOL_QUEUES, SYSTEM_QUEUE, JobKind, Precheck

__all__ = [
    "CATALOG",
    "POOL_QUEUES",
    "SYSTEM_QUEUE",
    "JobKind",
    "Precheck",
    "builtin_schedules",
    "get_kind",
    "load_plugins",
    "longest_time_limit_s",
    "register",
    "task_modules",
    "task_routes",
]

FAMILIES = (system, aiops, mlops, dataops)

CATALOG: dict[str, JobKind[Any]] = {}


def register(kind: JobKind[Any]) -> JobKind[Any]:
    """Add a kind to the catalog (families at import, plugins at start)."""
    if kind.queue not in (*POOL_QUEUES, SYSTEM_QUEUE):
        raise ValueError(f"kind {kind.name}: unknown queue {kind.queue!r}")
    existing = CATALOG.get(kind.name)
    if existing is not None and existing is not kind:
        raise ValueError(f"kind {kind.name} is declared twice")
    CATALOG[kind.name] = kind
    return kind


for _family in FAMILIES:
    for _kind in _family.KINDS:
        register(_kind)


def get_kind(name: str) -> JobKind[Any]:
    """The kind called `name`, or InvalidInput naming the nearest and the known kinds."""
    kind = CATALOG.get(name)
    if kind is None:
        close = difflib.get_close_matches(name, CATALOG, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidInput(
            f"unknown job kind {name!r}; {hint}known: {', '.join(sorted(CATALOG))}",
            details={"known_kinds": sorted(CATALOG)},
        )
    return kind


def longest_time_limit_s() -> float:
    return max(kind.time_limit_s for kind in CATALOG.values())


def task_routes() -> dict[str, dict[str, str]]:
    """Celery routing derived from the catalog: each kind to its queue."""
    return {kind.name: {"queue": kind.queue} for kind in CATALOG.values()}


def task_modules() -> list[str]:
    """The modules holding the bodies of every kind, and the bundle task that runs several
    of a kind in one message (core/bundles.py), for the workers to import."""
    return sorted({kind.task_module for kind in CATALOG.values()} | {"tasks.bundles"})


def builtin_schedules(settings: Settings) -> list[dict[str, Any]]:
    """The periodic work the families need, from the settings (see core/schedules.py)."""
    return [entry for family in FAMILIES for entry in family.schedules(settings)]


def load_plugins(settings: Settings) -> None:
    """Import the modules named in `TRIOPS_PLUGINS`: each registers its kinds with
    `register` (and, for workers, names the module of their bodies in `task_module`)."""
    for module in settings.plugins:
        importlib.import_module(module)
