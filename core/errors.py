"""The one exception tree of triops.

    TriopsError                      root: anything we raise on purpose
     ├── InvalidInput                bad params, unknown kind, a file we cannot read  → 422
     │    └── PayloadTooLarge        an upload over the configured limit              → 413
     ├── NotFound                    unknown job, file, artifact, ...                 → 404
     ├── Conflict                    idempotency key reused with another body, ...    → 409
     │    └── GateFailed             an evaluation's verdict failed a gating step     → 409
     ├── Unauthorized                missing or wrong API token                       → 401
     ├── Forbidden                   a valid token whose scope is too narrow          → 403
     └── Unavailable                 broker or database down; worth retrying          → 503

Domain code raises these; the API maps them to HTTP at the edge (api/errors.py); the
job task marks the job failed with the error's type and message, and retries only
`Unavailable`.
"""

from __future__ import annotations

from typing import Any


class TriopsError(Exception):
    """Root of every error triops raises on purpose."""

    status_code = 500

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": type(self).__name__, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(TriopsError):
    """What the caller sent cannot be used."""

    status_code = 422


class PayloadTooLarge(InvalidInput):
    """An upload exceeded the configured size limit."""

    status_code = 413


class NotFound(TriopsError):
    """The thing asked for does not exist."""

    status_code = 404


class Conflict(TriopsError):
    """The request contradicts the current state."""

    status_code = 409


class GateFailed(Conflict):
    """A quality gate did not pass; a pipeline stops here."""


class Unauthorized(TriopsError):
    """Missing or wrong credentials."""

    status_code = 401


class Forbidden(TriopsError):
    """Valid credentials that may not do this."""

    status_code = 403


class Unavailable(TriopsError):
    """A service we depend on (broker, database) cannot be reached right now."""

    status_code = 503
