"""The one root of the errors the domain raises.

    DomainError (ValueError)          the input cannot be used as given        → 422
     ├── AlertParseError              domain/aiops/alert_payloads.py
     ├── LogFormatError, MaskError,   domain/aiops/logparse*.py
     │   MinerStateError
     ├── SeriesError                  domain/aiops/metrics.py (and forecasts)
     ├── ExpressionError,             domain/dataops/
     │   TransformError
     ├── DatasetError, TrainingError, domain/mlops/
     │   EstimatorError, DriftError,
     │   SchemaError
     ├── ScheduleError                domain/schedules.py
     └── StateConflict                the move contradicts the current state   → 409
          └── InvalidTransitionError  domain/aiops/incidents.py

Each is mapped once: `tasks.base.JobTask` fails the job with type `InvalidInput` (or
`Conflict`) and the message; `api/errors.py` answers 422 (or 409). Nothing else
translates them. `details` carries structured context (missing columns, a field name).
Being `ValueError`s, they also become field errors when raised inside a pydantic
validator.
"""

from __future__ import annotations

from typing import Any


class DomainError(ValueError):
    """The input cannot be used as given; the message says why, in words."""

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


class StateConflict(DomainError):
    """The requested move contradicts the current state (a resolved incident acked)."""
