"""Incident lifecycle rules: states, transitions, auto-resolve, escalation and retry backoff.

Pure functions over plain values. Nothing here reads a clock: every time-relative rule takes
``now`` (a timezone-aware :class:`datetime.datetime`) as a parameter.

Lifecycle::

    open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
      └──────────────────────resolve───────────────────▲

Repeating the action that produced the current state (acknowledge an acknowledged incident,
resolve a resolved one) is a no-op, so handlers can be retried safely. A resolved incident is
final: new alerts for the same problem open a new incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.errors import StateConflict

__all__ = [
    "SEVERITY_ALIASES",
    "SEVERITY_RANK",
    "AutoResolve",
    "Escalation",
    "IncidentAction",
    "IncidentActivity",
    "IncidentState",
    "InvalidTransitionError",
    "Transition",
    "auto_resolve_due",
    "escalation",
    "max_severity",
    "normalise_severity",
    "severity_rank",
    "transition",
]


class IncidentState(StrEnum):
    """Where an incident is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class IncidentAction(StrEnum):
    """What a person or a rule does to an incident."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class InvalidTransitionError(StateConflict):
    """The action is not allowed from the incident's current state."""


# Canonical severities, most severe first; the synonyms below are the documented ones
# (an alert with any other severity is refused). ``high`` is a synonym of ``error``.
SEVERITY_RANK: dict[str, int] = {"critical": 4, "error": 3, "warning": 2, "info": 1}

SEVERITY_ALIASES: dict[str, str] = {
    "critical": "critical",
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "page": "critical",
    "p1": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "notice": "info",
    "debug": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}


def normalise_severity(value: str | None) -> str:
    """Map a free-form severity label onto the canonical scale.

    Parameters
    ----------
    value:
        A severity as sources write it (``"CRITICAL"``, ``"high"``, ``"warn"``, ``"P2"``...).
        ``None``, empty and unknown values map to ``"info"``.

    Returns
    -------
    str
        One of ``"critical"``, ``"error"``, ``"warning"``, ``"info"``.
    """
    if not value:
        return "info"
    return SEVERITY_ALIASES.get(value.strip().lower(), "info")


def severity_rank(value: str | None) -> int:
    """Order severities: critical (4) > error/high (3) > warning (2) > info (1).

    Parameters
    ----------
    value:
        Any severity accepted by :func:`normalise_severity`.

    Returns
    -------
    int
        The rank; larger is more severe.
    """
    return SEVERITY_RANK[normalise_severity(value)]


def max_severity(values: Iterable[str | None]) -> str:
    """The most severe of some severities.

    Parameters
    ----------
    values:
        Severities in any accepted spelling; may be empty.

    Returns
    -------
    str
        The canonical most severe value, ``"info"`` when ``values`` is empty.
    """
    best = "info"
    for value in values:
        canonical = normalise_severity(value)
        if SEVERITY_RANK[canonical] > SEVERITY_RANK[best]:
            best = canonical
    return best


@dataclass(frozen=True, slots=True)
class Transition:
    """The outcome of applying an action to an incident.

    Attributes
    ----------
    state:
        The state after the action.
    changed:
        False when the action was a repeat (idempotent no-op); callers then skip side effects
        such as notifications.
    """

    state: IncidentState
    changed: bool


_ALLOWED: dict[IncidentState, dict[IncidentAction, IncidentState]] = {
    IncidentState.OPEN: {
        IncidentAction.ACKNOWLEDGE: IncidentState.ACKNOWLEDGED,
        IncidentAction.RESOLVE: IncidentState.RESOLVED,
    },
    IncidentState.ACKNOWLEDGED: {IncidentAction.RESOLVE: IncidentState.RESOLVED},
    IncidentState.RESOLVED: {},
}

_ACTION_TARGET: dict[IncidentAction, IncidentState] = {
    IncidentAction.ACKNOWLEDGE: IncidentState.ACKNOWLEDGED,
    IncidentAction.RESOLVE: IncidentState.RESOLVED,
}


def transition(current: IncidentState | str, action: IncidentAction | str) -> Transition:
    """Apply a lifecycle action.

    Allowed: open→acknowledged, open→resolved, acknowledged→resolved. Repeating the action
    that led to the current state is a no-op (``changed=False``): resolving a resolved
    incident is idempotent. Anything else (acknowledging a resolved incident) is refused.

    Parameters
    ----------
    current:
        The incident's present state (enum or its string value).
    action:
        ``"acknowledge"`` or ``"resolve"`` (enum or string).

    Returns
    -------
    Transition
        The new state and whether it differs from ``current``.

    Raises
    ------
    InvalidTransitionError
        When the action is not allowed from ``current``, or a value is unknown.
    """
    try:
        state = IncidentState(current)
        act = IncidentAction(action)
    except ValueError as exc:
        raise InvalidTransitionError(str(exc)) from exc
    if _ACTION_TARGET[act] == state:
        return Transition(state=state, changed=False)
    target = _ALLOWED[state].get(act)
    if target is None:
        raise InvalidTransitionError(f"cannot {act.value} an incident that is {state.value}")
    return Transition(state=target, changed=True)


@dataclass(frozen=True, slots=True)
class IncidentActivity:
    """What the auto-resolve rule needs to know about one incident.

    Attributes
    ----------
    incident_id:
        The incident's identifier (opaque here).
    state:
        Its lifecycle state.
    last_alert_at:
        When an alert for it was last received (timezone-aware).
    firing_alerts:
        How many of its alerts are still firing (not resolved by their source).
    """

    incident_id: str
    state: IncidentState | str
    last_alert_at: datetime
    firing_alerts: int = 0


@dataclass(frozen=True, slots=True)
class AutoResolve:
    """An incident the rule says to resolve, and why (``"quiet"`` or ``"stale"``)."""

    incident_id: str
    reason: str
    quiet_for_s: float


def auto_resolve_due(
    incidents: Iterable[IncidentActivity],
    *,
    now: datetime,
    quiet_s: float,
    stale_s: float | None = None,
) -> list[AutoResolve]:
    """Pick the incidents to resolve automatically.

    An unresolved incident is due when

    * ``"quiet"``: all its alerts are resolved at the source and none arrived for ``quiet_s``;
    * ``"stale"``: (only if ``stale_s`` is given) no alert arrived for ``stale_s``, even though
      some never sent a resolution. Alertmanager re-sends firing alerts every
      ``repeat_interval``, so ``stale_s`` should exceed it.

    Parameters
    ----------
    incidents:
        The candidates; resolved ones are ignored.
    now:
        The current time (timezone-aware, same clock as ``last_alert_at``).
    quiet_s:
        Seconds without alerts before a fully resolved incident closes.
    stale_s:
        Seconds without alerts before an incident closes regardless of firing alerts;
        ``None`` disables that rule.

    Returns
    -------
    list[AutoResolve]
        The due incidents in input order.
    """
    if quiet_s < 0 or (stale_s is not None and stale_s < 0):
        raise ValueError("quiet_s and stale_s must be >= 0")
    due: list[AutoResolve] = []
    for incident in incidents:
        if IncidentState(incident.state) == IncidentState.RESOLVED:
            continue
        quiet_for_s = (now - incident.last_alert_at).total_seconds()
        if incident.firing_alerts <= 0 and quiet_for_s >= quiet_s:
            due.append(AutoResolve(incident.incident_id, "quiet", quiet_for_s))
        elif stale_s is not None and quiet_for_s >= stale_s:
            due.append(AutoResolve(incident.incident_id, "stale", quiet_for_s))
    return due


@dataclass(frozen=True, slots=True)
class Escalation:
    """The escalation decision for an incident receiving alerts.

    Attributes
    ----------
    escalated:
        True when a joining alert is more severe than the incident.
    severity:
        The incident's severity afterwards (canonical).
    previous:
        Its severity before (canonical).
    """

    escalated: bool
    severity: str
    previous: str


def escalation(
    incident_severity: str,
    joining_severities: Sequence[str | None],
    *,
    state: IncidentState | str = IncidentState.OPEN,
) -> Escalation:
    """Decide whether joining alerts escalate an incident.

    An incident escalates when a joining alert has a strictly higher severity than the
    incident; the incident then takes the highest joining severity. Resolved incidents never
    escalate (new alerts open a new incident instead).

    Parameters
    ----------
    incident_severity:
        The incident's current severity (any accepted spelling).
    joining_severities:
        Severities of the alerts that join it now.
    state:
        The incident's lifecycle state.

    Returns
    -------
    Escalation
        Whether it escalated and the resulting severity.
    """
    previous = normalise_severity(incident_severity)
    if IncidentState(state) == IncidentState.RESOLVED:
        return Escalation(escalated=False, severity=previous, previous=previous)
    highest = max_severity([previous, *joining_severities])
    escalated = SEVERITY_RANK[highest] > SEVERITY_RANK[previous]
    return Escalation(escalated=escalated, severity=highest, previous=previous)
