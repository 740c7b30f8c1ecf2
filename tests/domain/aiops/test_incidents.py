"""Incident lifecycle rules: transitions, auto-resolve, escalation, severity order, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.aiops.incidents import (
    IncidentActivity,
    IncidentState,
    InvalidTransitionError,
    auto_resolve_due,
    escalation,
    max_severity,
    normalise_severity,
    severity_rank,
    transition,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "action", "expected"),
    [
        ("open", "acknowledge", "acknowledged"),
        ("open", "resolve", "resolved"),
        ("acknowledged", "resolve", "resolved"),
    ],
)
def test_allowed_transitions_move_the_incident_forward(
    current: str, action: str, expected: str
) -> None:
    result = transition(current, action)
    assert result.state == IncidentState(expected)
    assert result.changed


def test_resolving_a_resolved_incident_is_an_idempotent_no_op() -> None:
    first = transition(IncidentState.OPEN, "resolve")
    again = transition(first.state, "resolve")
    assert again.state == IncidentState.RESOLVED
    assert not again.changed


def test_acknowledging_twice_is_a_no_op() -> None:
    result = transition("acknowledged", "acknowledge")
    assert result.state == IncidentState.ACKNOWLEDGED
    assert not result.changed


def test_a_resolved_incident_cannot_be_acknowledged() -> None:
    with pytest.raises(InvalidTransitionError, match="resolved"):
        transition("resolved", "acknowledge")


def test_unknown_states_and_actions_are_refused() -> None:
    with pytest.raises(InvalidTransitionError):
        transition("closed", "resolve")
    with pytest.raises(InvalidTransitionError):
        transition("open", "snooze")


def test_auto_resolve_picks_quiet_incidents_whose_alerts_all_resolved() -> None:
    incidents = [
        IncidentActivity("quiet", "open", NOW - timedelta(minutes=20), firing_alerts=0),
        IncidentActivity("recent", "open", NOW - timedelta(minutes=2), firing_alerts=0),
        IncidentActivity("still-firing", "acknowledged", NOW - timedelta(hours=2), 1),
        IncidentActivity("done", "resolved", NOW - timedelta(days=1), firing_alerts=0),
    ]
    due = auto_resolve_due(incidents, now=NOW, quiet_s=600)
    assert [(d.incident_id, d.reason) for d in due] == [("quiet", "quiet")]
    assert due[0].quiet_for_s == pytest.approx(1200)


def test_auto_resolve_closes_stale_incidents_even_with_firing_alerts_when_asked() -> None:
    incidents = [
        IncidentActivity("stale", "open", NOW - timedelta(hours=6), firing_alerts=3),
        IncidentActivity("live", "open", NOW - timedelta(hours=1), firing_alerts=3),
    ]
    due = auto_resolve_due(incidents, now=NOW, quiet_s=600, stale_s=5 * 3600)
    assert [(d.incident_id, d.reason) for d in due] == [("stale", "stale")]


def test_auto_resolve_boundary_is_inclusive() -> None:
    incident = IncidentActivity("edge", "open", NOW - timedelta(seconds=600))
    assert [d.incident_id for d in auto_resolve_due([incident], now=NOW, quiet_s=600)] == ["edge"]


def test_severities_are_ordered_critical_error_warning_info() -> None:
    assert severity_rank("critical") > severity_rank("error") > severity_rank("warning")
    assert severity_rank("warning") > severity_rank("info")
    assert severity_rank("high") == severity_rank("error")
    assert normalise_severity("WARN") == "warning"
    assert normalise_severity(None) == "info"
    assert normalise_severity("something-odd") == "info"
    assert max_severity(["info", "HIGH", "warning"]) == "error"
    assert max_severity([]) == "info"


def test_a_more_severe_joining_alert_escalates_the_incident() -> None:
    decision = escalation("warning", ["info", "critical"])
    assert decision.escalated
    assert decision.severity == "critical"
    assert decision.previous == "warning"


def test_an_equal_or_lower_joining_alert_does_not_escalate() -> None:
    assert not escalation("error", ["high", "warning"]).escalated
    assert escalation("error", ["high", "warning"]).severity == "error"


def test_a_resolved_incident_never_escalates() -> None:
    assert not escalation("info", ["critical"], state="resolved").escalated
