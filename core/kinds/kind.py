"""`JobKind`: what a kind of job is — its queue, params, limits and submit-time checks.

A kind is declared once, in its family's module under `core/kinds/`, with its params
model beside it; its body is a task of the same name in `tasks/<family>.py`. Nothing
else in the code names a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidInput
from core.validation import problems

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

POOL_QUEUES = ("aiops", "mlops", "dataops")
"""One worker pool per queue."""

SYSTEM_QUEUE = "system"
"""Consumed by every pool, so `system.*` kinds need no worker process of their own."""

P = TypeVar("P", bound=BaseModel)

Precheck = Callable[["Session", P, "Settings | None"], None]
"""Refuse at submit what the job would refuse anyway, from the current state: an unknown
model or dataset version, a gate not passed, an unknown SQL connection... Raises a
TriopsError (NotFound → 404, Conflict → 409, InvalidInput → 422)."""


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """One kind of job: what it does, where it runs and how long it may take."""

    name: str
    queue: str
    params_model: type[P]
    description: str
    time_limit_s: float
    max_attempts: int = 3
    example: dict[str, Any] = field(default_factory=dict)
    """Params that are valid for this kind, shown in the OpenAPI document."""
    precheck: Precheck[P] | None = None
    task_module: str = ""
    """The module holding the body (default: `tasks.<family>`); workers import it."""

    def __post_init__(self) -> None:
        if not self.task_module:
            object.__setattr__(self, "task_module", f"tasks.{self.name.split('.', 1)[0]}")

    @property
    def soft_time_limit_s(self) -> float:
        """The task is told to stop here, leaving a margin before the hard kill."""
        return max(1.0, self.time_limit_s * 0.9)

    def validate(self, params: dict[str, Any]) -> P:
        """The params as this kind's model; InvalidInput names every problem, in words."""
        try:
            return self.params_model.model_validate(params)
        except ValidationError as exc:
            found = problems(
                exc.errors(include_url=False), model=self.params_model, prefix=["params"]
            )
            first = found[0]
            where = ".".join(str(part) for part in first["loc"])
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise InvalidInput(
                f"invalid params for {self.name}: {where}: {first['msg']}{more}", details=found
            ) from exc

    def check(self, session: Session, params: P, settings: Settings | None) -> None:
        """Run the kind's submit-time checks against the current state, if it has any."""
        if self.precheck is not None:
            self.precheck(session, params, settings)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "queue": self.queue,
            "description": self.description,
            "time_limit_s": self.time_limit_s,
            "params_schema": self.params_model.model_json_schema(),
        }
