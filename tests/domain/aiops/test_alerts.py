"""Alerts: Alertmanager parsing, fingerprints, dedupe, correlation, root cause and joining."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.aiops.alerts import (
    Alert,
    AlertParseError,
    alert_to_dict,
    compute_fingerprint,
    dedupe,
    parse_alert,
    parse_alertmanager,
    parse_payload,
)
from domain.aiops.correlation import OpenIncident, correlate, group_to_dict, join_open_incidents

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

# What Alertmanager 0.27 posts to a webhook receiver (two alerts in one notification group).
ALERTMANAGER_PAYLOAD: dict[str, Any] = {
    "receiver": "triops",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "cluster": "prod-eu",
                "instance": "checkout-7d9f:8080",
                "job": "checkout",
                "severity": "critical",
            },
            "annotations": {
                "description": "5xx ratio is 12% over the last 5 minutes.",
                "summary": "checkout is failing requests",
                "runbook_url": "https://runbooks.example.com/checkout",
            },
            "startsAt": "2024-05-01T12:00:05.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=rate%28...%29&g0.tab=1",
            "fingerprint": "c4b3a0e1f2d59e77",
        },
        {
            "status": "resolved",
            "labels": {
                "alertname": "PodRestarting",
                "cluster": "prod-eu",
                "namespace": "shop",
                "pod": "checkout-7d9f",
                "severity": "warning",
                "service": "checkout",
            },
            "annotations": {"description": "Pod restarted 3 times in 10 minutes."},
            "startsAt": "2024-05-01T11:58:00+02:00",
            "endsAt": "2024-05-01T12:10:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=kube_pod",
            "fingerprint": "0a1b2c3d4e5f6789",
        },
    ],
    "groupLabels": {"cluster": "prod-eu"},
    "commonLabels": {"cluster": "prod-eu"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}/{severity=~"warning|critical"}:{cluster="prod-eu"}',
    "truncatedAlerts": 0,
}


def make_alert(
    service: str,
    at_s: float,
    *,
    name: str = "Down",
    severity: str = "warning",
    cluster: str = "prod",
    status: str = "firing",
    seen_s: float | None = None,
) -> Alert:
    labels = {"alertname": name, "service": service, "cluster": cluster}
    return Alert(
        source="test",
        service=service,
        severity=severity,
        labels=labels,
        starts_at=T0 + timedelta(seconds=at_s),
        message=f"{service} {name}",
        fingerprint=compute_fingerprint(labels, source="test", service=service),
        status=status,
        ends_at=T0 + timedelta(seconds=at_s + 60) if status == "resolved" else None,
        last_seen_at=None if seen_s is None else T0 + timedelta(seconds=seen_s),
    )


def test_an_alertmanager_webhook_payload_is_parsed_field_by_field() -> None:
    received = T0 + timedelta(minutes=1)
    batch = parse_alertmanager(ALERTMANAGER_PAYLOAD, received_at=received)
    assert batch.receiver == "triops"
    assert batch.external_url == "http://alertmanager:9093"
    assert batch.group_key.startswith("{}/")
    assert batch.truncated_alerts == 0
    first, second = batch.alerts
    assert first.source == "alertmanager"
    assert first.service == "checkout"  # from the job label
    assert first.severity == "critical"
    assert first.message == "checkout is failing requests"  # summary wins over description
    assert first.fingerprint == "c4b3a0e1f2d59e77"
    assert first.status == "firing"
    assert first.starts_at == datetime(2024, 5, 1, 12, 0, 5, 123456, tzinfo=UTC)
    assert first.annotations["runbook_url"].startswith("https://")
    assert first.generator_url is not None
    assert first.last_seen_at == received
    assert second.service == "checkout"  # from the service label
    assert second.message == "Pod restarted 3 times in 10 minutes."
    assert second.status == "resolved"
    assert second.starts_at == datetime(2024, 5, 1, 9, 58, tzinfo=UTC)  # offset normalised
    assert second.ends_at == datetime(2024, 5, 1, 12, 10, tzinfo=UTC)


def test_alertmanagers_zero_ends_at_means_unset() -> None:
    firing = parse_alertmanager(ALERTMANAGER_PAYLOAD).alerts[0]
    assert firing.ends_at is None


def test_the_message_falls_back_to_the_alertname_and_the_fingerprint_is_computed() -> None:
    payload = {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "labels": {"alertname": "DiskFull", "app": "db", "severity": "high"},
                "annotations": {},
                "startsAt": "2024-05-01T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }
    alert = parse_payload(payload).alerts[0]
    assert alert.message == "DiskFull"
    assert alert.service == "db"
    assert alert.severity == "error"  # high is an alias of error
    assert alert.status == "firing"  # from the envelope
    assert alert.fingerprint == compute_fingerprint(
        alert.labels, source="alertmanager", service="db"
    )


def test_a_computed_fingerprint_ignores_label_order_but_not_values() -> None:
    a = compute_fingerprint({"a": "1", "b": "2"}, source="s")
    assert a == compute_fingerprint({"b": "2", "a": "1"}, source="s")
    assert a != compute_fingerprint({"a": "1", "b": "3"}, source="s")
    assert a != compute_fingerprint({"a": "1", "b": "2"}, source="other")
    assert len(a) == 16


def test_our_own_alert_shape_round_trips() -> None:
    original = make_alert("api", 30, severity="error", status="resolved")
    data = alert_to_dict(original)
    assert data["starts_at"] == "2024-05-01T12:00:30Z"
    assert parse_alert(data) == original
    batch = parse_payload([data, data])
    assert len(batch.alerts) == 2


def test_our_shape_fills_service_severity_and_start_from_what_it_has() -> None:
    alert = parse_alert(
        {"labels": {"job": "worker", "severity": "crit", "alertname": "QueueStuck"}},
        received_at=T0,
    )
    assert (alert.service, alert.severity, alert.message) == ("worker", "critical", "QueueStuck")
    assert alert.starts_at == T0
    assert alert.source == "triops"


@pytest.mark.parametrize(
    "payload",
    [
        {"version": "4", "alerts": "nope"},
        {"version": "4", "alerts": [{"labels": {}, "startsAt": "yesterday"}]},
        {
            "version": "4",
            "alerts": [{"labels": {}, "startsAt": "2024-05-01T12:00:00Z", "status": "odd"}],
        },
        {"labels": {"a": "b"}},  # our shape without any start time
        42,
    ],
)
def test_malformed_payloads_raise_a_parse_error(payload: Any) -> None:
    with pytest.raises(AlertParseError):
        parse_payload(payload)


def test_a_repeated_firing_is_deduplicated_by_fingerprint() -> None:
    first = make_alert("api", 0, seen_s=0)
    repeat = make_alert("api", 0, seen_s=240, severity="critical")
    other = make_alert("db", 10)
    merged = dedupe([first, other, repeat])
    assert len(merged) == 2
    api = merged[0]
    assert api.count == 2
    assert api.last_seen_at == T0 + timedelta(seconds=240)
    assert api.starts_at == T0
    assert api.severity == "critical"  # the latest notification's state wins


def test_a_firing_after_resolution_is_a_new_occurrence() -> None:
    resolved = make_alert("api", 0, status="resolved")  # ends at +60 s
    again = make_alert("api", 600)
    assert resolved.fingerprint == again.fingerprint
    assert len(dedupe([resolved, again])) == 2


def test_a_resolved_notification_resolves_the_deduplicated_alert() -> None:
    firing = make_alert("api", 0)
    resolved = make_alert("api", 0, status="resolved")
    (merged,) = dedupe([firing, resolved])
    assert merged.status == "resolved"
    assert merged.count == 2


def test_alerts_group_by_service_and_cluster_within_the_window() -> None:
    alerts = [
        make_alert("api", 0, name="HighLatency"),
        make_alert("api", 120, name="HighErrorRate"),  # same service, in window: joins
        make_alert("api", 30, name="HighLatency", cluster="staging"),  # other cluster
        make_alert("web", 60),  # other service, no graph: separate
        make_alert("api", 120 + 301, name="Again"),  # after a gap > window: new group
    ]
    groups = correlate(alerts, window_s=300)
    summary = sorted((g.services, len(g.alerts), g.alerts[0].labels["cluster"]) for g in groups)
    assert summary == [
        (("api",), 1, "prod"),
        (("api",), 1, "staging"),
        (("api",), 2, "prod"),
        (("web",), 1, "prod"),
    ]


def test_the_window_chains_while_alerts_keep_arriving() -> None:
    alerts = [make_alert("api", i * 200, name=f"A{i}") for i in range(6)]  # 1000 s span
    groups = correlate(alerts, window_s=300)
    assert len(groups) == 1
    assert groups[0].last_seen_at == T0 + timedelta(seconds=1000)


def test_a_long_lived_repeating_alert_keeps_its_group_open() -> None:
    long_lived = make_alert("api", 0, seen_s=3000)  # re-notified until +3000 s
    late = make_alert("api", 3100, name="Other")
    assert len(correlate([long_lived, late], window_s=300)) == 1


def test_group_by_can_be_configured() -> None:
    alerts = [make_alert("api", 0, name="X"), make_alert("web", 10, name="X")]
    assert len(correlate(alerts, group_by=("alertname",))) == 1
    assert len(correlate(alerts)) == 2


DEPENDENCIES = {
    "frontend": ["checkout", "search"],
    "checkout": ["payments", "db"],
    "payments": ["db"],
    "search": ["index"],
}


def test_dependency_graph_joins_connected_services_and_roots_at_the_upstream_earliest() -> None:
    alerts = [
        make_alert("frontend", 0, name="5xx", severity="critical"),
        make_alert("checkout", 20, name="Latency"),
        make_alert("db", 45, name="ReplicationLag", severity="error"),
        make_alert("db", 50, name="ConnectionsExhausted"),
        make_alert("index", 30, name="Stale"),  # connected only via search: separate
        make_alert("db", 40, name="Slow", cluster="staging"),  # other cluster: separate
    ]
    groups = correlate(alerts, window_s=300, dependencies=DEPENDENCIES)
    main = next(g for g in groups if "frontend" in g.services)
    assert main.services == ("checkout", "db", "frontend")
    assert main.root_cause.service == "db"  # most upstream, although it fired last
    assert main.root_cause.alertname == "ReplicationLag"  # the earliest db alert
    assert "checkout" in main.root_cause_reason and "frontend" in main.root_cause_reason
    assert main.severity == "critical"
    assert len(groups) == 3
    kinds = [(e.service, e.kind) for e in main.timeline]
    assert kinds[0] == ("frontend", "fired")
    assert [e.at for e in main.timeline] == sorted(e.at for e in main.timeline)


def test_graph_neighbours_outside_the_window_do_not_join() -> None:
    alerts = [make_alert("checkout", 0), make_alert("db", 1000)]
    assert len(correlate(alerts, window_s=300, dependencies=DEPENDENCIES)) == 2


def test_without_a_graph_the_root_cause_is_the_earliest_alert() -> None:
    alerts = [make_alert("api", 50, name="B"), make_alert("api", 10, name="A")]
    (group,) = correlate(alerts)
    assert group.root_cause.alertname == "A"
    assert group.root_cause_reason == "earliest alert"


def test_a_dependency_cycle_falls_back_to_the_earliest_alert() -> None:
    cyclic = {"a": ["b"], "b": ["a"]}
    (group,) = correlate([make_alert("b", 5), make_alert("a", 9)], dependencies=cyclic)
    assert group.root_cause.service == "b"


def test_the_timeline_shows_firing_repeats_and_resolution() -> None:
    alert = make_alert("api", 0, status="resolved")
    repeat = make_alert("api", 0, status="resolved", seen_s=30)
    (group,) = correlate(dedupe([alert, repeat]))
    assert [e.kind for e in group.timeline] == ["fired", "repeated", "resolved"]
    assert group.status == "resolved"
    summary = group_to_dict(group)
    assert summary["root_cause"]["service"] == "api"
    assert summary["timeline"][0]["at"] == "2024-05-01T12:00:00Z"


def test_new_alerts_join_the_open_incident_that_shares_their_key() -> None:
    (existing,) = correlate([make_alert("api", 0), make_alert("api", 60, name="B")])
    incident = OpenIncident("inc-1", existing.keys, existing.last_seen_at, existing.fingerprints)
    new = [
        make_alert("api", 200, name="C"),  # same key, in window: joins
        make_alert("web", 210),  # unrelated: new group
        make_alert("web", 220, name="W2"),  # correlates with the web alert
    ]
    plan = join_open_incidents(new, [incident], window_s=300)
    assert [a.alertname for a in plan.joins["inc-1"]] == ["C"]
    assert len(plan.new_groups) == 1
    assert [a.alertname for a in plan.new_groups[0].alerts] == ["Down", "W2"]


def test_new_alerts_join_open_incidents_through_the_dependency_graph() -> None:
    (existing,) = correlate([make_alert("db", 0)], dependencies=DEPENDENCIES)
    incident = OpenIncident("inc-db", existing.keys, existing.last_seen_at)
    plan = join_open_incidents(
        [make_alert("payments", 100)], [incident], window_s=300, dependencies=DEPENDENCIES
    )
    assert list(plan.joins) == ["inc-db"]
    assert plan.new_groups == []


def test_alerts_after_the_window_open_a_new_incident() -> None:
    (existing,) = correlate([make_alert("api", 0)])
    incident = OpenIncident("inc-1", existing.keys, existing.last_seen_at)
    plan = join_open_incidents([make_alert("api", 900, name="Late")], [incident], window_s=300)
    assert plan.joins == {}
    assert len(plan.new_groups) == 1


def test_a_repeat_of_an_incident_alert_joins_it_whatever_the_window() -> None:
    first = make_alert("api", 0)
    (existing,) = correlate([first])
    incident = OpenIncident("inc-1", existing.keys, existing.last_seen_at, existing.fingerprints)
    repeat = make_alert("api", 0, seen_s=5000)
    plan = join_open_incidents([repeat], [incident], window_s=300)
    assert list(plan.joins) == ["inc-1"]


def test_two_open_incidents_are_never_merged_by_a_bridging_alert() -> None:
    (api,) = correlate([make_alert("checkout", 0)])
    (db,) = correlate([make_alert("db", 0)])
    incidents = [
        OpenIncident("inc-checkout", api.keys, api.last_seen_at),
        OpenIncident("inc-db", db.keys, db.last_seen_at),
    ]
    bridge = make_alert("payments", 60)  # depends on db, checkout depends on it
    plan = join_open_incidents([bridge], incidents, dependencies=DEPENDENCIES)
    assert sum(len(v) for v in plan.joins.values()) == 1
    assert plan.new_groups == []


def test_ten_thousand_alerts_correlate_into_consistent_groups() -> None:
    rng = random.Random(7)
    services = [f"svc{i}" for i in range(50)]
    dependencies = {s: [services[(i + 1) * 2 % 50]] for i, s in enumerate(services[:25])}
    alerts = [
        make_alert(
            rng.choice(services),
            rng.uniform(0, 86_400),
            name=rng.choice(["Latency", "Errors", "Down"]),
            cluster=rng.choice(["eu", "us"]),
        )
        for _ in range(10_000)
    ]
    groups = correlate(alerts, window_s=300, dependencies=dependencies)
    members = [a for g in groups for a in g.alerts]
    assert len(members) == 10_000
    assert {id(a) for a in members} == {id(a) for a in alerts}
    for group in groups:
        assert len({a.labels["cluster"] for a in group.alerts}) == 1
        assert group.root_cause in group.alerts
        starts = [a.starts_at for a in group.alerts]
        assert starts == sorted(starts)
        # every member is within the window of some other member (chaining), unless alone
        if len(starts) > 1:
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
            assert max(gaps) <= 300
    # same key alerts far apart never share a group: groups of one service are disjoint in time
    by_key: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for group in groups:
        if len(group.services) == 1:
            key = (group.services[0], group.alerts[0].labels["cluster"])
            by_key.setdefault(key, []).append((group.started_at, group.last_seen_at))
    for spans in by_key.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert (start - end).total_seconds() > 300
