"""Correlation: alerts folded into groups (future incidents) with a root cause and a timeline.

Pure logic over plain values: no clock (times are parameters), no I/O.

Correlation model
-----------------
Alerts become *groups* (future incidents). Two alerts correlate when, within ``window_s`` of
each other's activity,

* they share the values of the ``group_by`` fields (default :data:`DEFAULT_GROUP_BY`:
  ``("service", "cluster")``; a missing label is the empty value, so without a ``cluster``
  label this is "same service"), or
* their services are directly connected in the optional dependency graph
  (``{service: [services it depends on]}``, either direction) and they share the non-service
  ``group_by`` values (the same cluster), so an outage in prod does not absorb staging.

Correlation is transitive: the groups are the connected components. Windows chain: a group
stays open while alerts keep arriving within ``window_s`` of its last activity. The sweep sorts
by time once and then does hash look-ups and union-find merges: O(n log n + n * degree).

Why service (+ cluster) and not Alertmanager's default ``alertname``: an outage on one service
usually fires several alert rules (latency, error rate, restarts); an incident is "checkout is
broken", not "HighLatency is firing". ``group_by`` is configurable for other policies.

Root cause of a group: among its services, the most upstream ones (no other service of the
group is among their transitive dependencies); among the alerts on those, the earliest (ties:
more severe, then fingerprint). Without a graph, simply the earliest alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.aiops.alerts import FIRING, RESOLVED, Alert, iso_time
from domain.aiops.incidents import max_severity, severity_rank

__all__ = [
    "DEFAULT_GROUP_BY",
    "DEFAULT_WINDOW_S",
    "AlertGroup",
    "JoinPlan",
    "OpenIncident",
    "TimelineEvent",
    "correlate",
    "group_key",
    "group_to_dict",
    "join_open_incidents",
    "service_key",
]

DEFAULT_GROUP_BY: tuple[str, ...] = ("service", "cluster")
"""Correlate alerts of the same service in the same cluster (missing cluster = same)."""

DEFAULT_WINDOW_S: float = 300.0
"""Alerts more than five minutes after a group's last activity start a new group."""


def _field(alert: Alert, name: str) -> str:
    if name == "service":
        return alert.service
    if name == "severity":
        return alert.severity
    if name == "source":
        return alert.source
    return alert.labels.get(name, "")


def _scope(alert: Alert, group_by: Sequence[str]) -> str:
    return "|".join(f"{name}={_field(alert, name)}" for name in group_by if name != "service")


def group_key(alert: Alert, group_by: Sequence[str] = DEFAULT_GROUP_BY) -> str:
    """The correlation key of an alert: its ``group_by`` values.

    Parameters
    ----------
    alert:
        The alert.
    group_by:
        Field names: ``service``, ``severity``, ``source`` or any label name.

    Returns
    -------
    str
        ``"grp:name=value|..."``; alerts with equal keys correlate within the window.
    """
    return "grp:" + "|".join(f"{name}={_field(alert, name)}" for name in group_by)


def _service_key(scope: str, service: str) -> str:
    return f"svc:{scope}>{service}"


def service_key(alert: Alert, group_by: Sequence[str] = DEFAULT_GROUP_BY) -> str:
    """The graph key of an alert: its service within its scope (non-service ``group_by``).

    Parameters
    ----------
    alert:
        The alert.
    group_by:
        As for :func:`group_key`.

    Returns
    -------
    str
        ``"svc:<scope>><service>"``; alerts on graph-adjacent services with the same scope
        correlate within the window.
    """
    return _service_key(_scope(alert, group_by), alert.service)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One entry of a group's timeline.

    Attributes
    ----------
    at:
        When it happened.
    kind:
        ``"fired"``, ``"repeated"`` (last repeat notification) or ``"resolved"``.
    fingerprint, service, severity, message:
        From the alert.
    """

    at: datetime
    kind: str
    fingerprint: str
    service: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """Correlated alerts: one future incident.

    Attributes
    ----------
    alerts:
        Member alerts ordered by ``starts_at``.
    root_cause:
        The probable root-cause alert.
    root_cause_reason:
        Why it was chosen, in words.
    severity:
        The most severe member severity.
    services:
        Member services, sorted.
    keys:
        Correlation keys (:func:`group_key` and :func:`service_key` values) to store on the
        incident so later alerts can join it (see :func:`join_open_incidents`).
    started_at:
        Earliest member ``starts_at``.
    last_seen_at:
        Latest member activity.
    timeline:
        Fired / repeated / resolved events in time order.
    """

    alerts: tuple[Alert, ...]
    root_cause: Alert
    root_cause_reason: str
    severity: str
    services: tuple[str, ...]
    keys: frozenset[str]
    started_at: datetime
    last_seen_at: datetime
    timeline: tuple[TimelineEvent, ...]

    @property
    def status(self) -> str:
        """``"firing"`` while any member fires, else ``"resolved"``."""
        return FIRING if any(a.status == FIRING for a in self.alerts) else RESOLVED

    @property
    def fingerprints(self) -> frozenset[str]:
        """Member fingerprints."""
        return frozenset(a.fingerprint for a in self.alerts)


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """What correlation needs to know about an open incident to let new alerts join it.

    Attributes
    ----------
    incident_id:
        Opaque identifier, returned in :class:`JoinPlan`.
    keys:
        The incident's correlation keys (``AlertGroup.keys`` when it was created, plus those
        of alerts that joined later).
    last_seen_at:
        Its latest alert activity.
    fingerprints:
        Fingerprints of its alerts: a repeat of one joins regardless of the window.
    """

    incident_id: str
    keys: frozenset[str]
    last_seen_at: datetime
    fingerprints: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class JoinPlan:
    """Where new alerts go.

    Attributes
    ----------
    joins:
        ``incident_id`` → the new alerts that join that open incident (time order).
    new_groups:
        Groups of new alerts that need new incidents.
    """

    joins: dict[str, tuple[Alert, ...]]
    new_groups: list[AlertGroup]


class _UnionFind:
    """Union-find whose components carry at most one seed (open incident)."""

    __slots__ = ("parent", "seed")

    def __init__(self, size: int, seeds: int) -> None:
        self.parent = list(range(size))
        self.seed = [i if i < seeds else -1 for i in range(size)]

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (self.seed[ra] >= 0 and self.seed[rb] >= 0):
            return  # never merge two open incidents
        if self.seed[rb] >= 0:
            ra, rb = rb, ra
        self.parent[rb] = ra


def _adjacency(dependencies: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    adjacent: dict[str, set[str]] = {}
    for service, deps in (dependencies or {}).items():
        for dep in deps:
            if dep == service:
                continue
            adjacent.setdefault(service, set()).add(dep)
            adjacent.setdefault(dep, set()).add(service)
    return {service: sorted(others) for service, others in adjacent.items()}


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Per-alert values computed once: float times and correlation keys."""

    start_ts: float
    seen_ts: float
    group: str
    service: str  # the service key
    scope: str


def _prepare(alerts: Sequence[Alert], group_by: Sequence[str]) -> list[_Prepared]:
    prepared = []
    for alert in alerts:
        scope = _scope(alert, group_by)
        prepared.append(
            _Prepared(
                start_ts=alert.starts_at.timestamp(),
                seen_ts=alert.seen_at.timestamp(),
                group=group_key(alert, group_by),
                service=_service_key(scope, alert.service),
                scope=scope,
            )
        )
    return prepared


def _sweep(
    alerts: Sequence[Alert],
    prepared: Sequence[_Prepared],
    seeds: Sequence[OpenIncident],
    *,
    window_s: float,
    dependencies: Mapping[str, Sequence[str]] | None,
) -> tuple[_UnionFind, list[int]]:
    """Link alerts (nodes ``len(seeds) + i``) to each other and to seeds; return the forest."""
    if window_s < 0:
        raise ValueError("window_s must be >= 0")
    n_seeds = len(seeds)
    forest = _UnionFind(n_seeds + len(alerts), n_seeds)
    adjacency = _adjacency(dependencies)
    # last activity per key: (epoch seconds, node)
    last: dict[str, tuple[float, int]] = {}
    by_fingerprint: dict[str, int] = {}
    for index, seed in enumerate(seeds):
        seen_ts = seed.last_seen_at.timestamp()
        for key in seed.keys:
            known = last.get(key)
            if known is None or seen_ts > known[0]:
                last[key] = (seen_ts, index)
        for fp in seed.fingerprints:
            by_fingerprint.setdefault(fp, index)
    order = sorted(range(len(alerts)), key=lambda i: (prepared[i].start_ts, i))
    union = forest.union
    for i in order:
        alert = alerts[i]
        prep = prepared[i]
        node = n_seeds + i
        start = prep.start_ts
        horizon = start - window_s  # activity at or after this is within the window
        if by_fingerprint:
            seed_hit = by_fingerprint.get(alert.fingerprint)
            if seed_hit is not None:
                union(seed_hit, node)
        for key in (prep.group, prep.service):
            known = last.get(key)
            if known is not None and known[0] >= horizon:
                union(known[1], node)
                last[key] = (max(known[0], prep.seen_ts), node)  # the key's group continues
            else:
                last[key] = (prep.seen_ts, node)  # the key starts a new group here
        others = adjacency.get(alert.service)
        if others:
            neighbours = [
                known
                for other in others
                if (known := last.get(_service_key(prep.scope, other))) is not None
                and known[0] >= horizon
            ]
            neighbours.sort(key=lambda item: item[0], reverse=True)  # most recent first
            for _, other_node in neighbours:
                union(other_node, node)
    return forest, order


def _depends_on(
    service: str,
    dependencies: Mapping[str, Sequence[str]],
    cache: dict[str, frozenset[str]],
) -> frozenset[str]:
    cached = cache.get(service)
    if cached is not None:
        return cached
    seen: set[str] = set()
    stack = list(dependencies.get(service, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(dependencies.get(current, ()))
    result = frozenset(seen)
    cache[service] = result
    return result


def _root_cause(
    members: Sequence[Alert],
    dependencies: Mapping[str, Sequence[str]] | None,
    cache: dict[str, frozenset[str]],
) -> tuple[Alert, str]:
    def earliest(candidates: Iterable[Alert]) -> Alert:
        return min(
            candidates,
            key=lambda a: (a.starts_at, -severity_rank(a.severity), a.fingerprint),
        )

    services = {a.service for a in members}
    if not dependencies or len(services) == 1:
        return earliest(members), "earliest alert"
    upstream: set[str] = set()
    for service in services:
        deps = _depends_on(service, dependencies, cache)
        # strictly downstream of another member: it depends on it, and not vice versa (cycles)
        downstream = any(
            other in deps and service not in _depends_on(other, dependencies, cache)
            for other in services
            if other != service
        )
        if not downstream:
            upstream.add(service)
    if not upstream or upstream == services:
        return earliest(members), "earliest alert (no dependency between its services)"
    root = earliest(a for a in members if a.service in upstream)
    dependents = sorted(
        s
        for s in services
        if s != root.service and root.service in _depends_on(s, dependencies, cache)
    )
    reason = f"earliest alert on the most upstream service {root.service}"
    if dependents:
        reason += f" ({', '.join(dependents)} depend on it)"
    return root, reason


def _timeline(members: Sequence[Alert]) -> tuple[TimelineEvent, ...]:
    events: list[tuple[datetime, int, TimelineEvent]] = []
    rank = {"fired": 0, "repeated": 1, "resolved": 2}
    for alert in members:
        stamps = [("fired", alert.starts_at)]
        if alert.count > 1 and alert.last_seen_at is not None:
            stamps.append(("repeated", alert.last_seen_at))
        if alert.status == RESOLVED:
            stamps.append(("resolved", alert.ends_at or alert.seen_at))
        for kind, at in stamps:
            event = TimelineEvent(
                at=at,
                kind=kind,
                fingerprint=alert.fingerprint,
                service=alert.service,
                severity=alert.severity,
                message=alert.message,
            )
            events.append((at, rank[kind], event))
    events.sort(key=lambda item: (item[0], item[1], item[2].fingerprint))
    return tuple(event for _, _, event in events)


def _build_group(
    members: list[int],
    alerts: Sequence[Alert],
    prepared: Sequence[_Prepared],
    dependencies: Mapping[str, Sequence[str]] | None,
    cache: dict[str, frozenset[str]],
) -> AlertGroup:
    chosen = [alerts[i] for i in members]
    root, reason = _root_cause(chosen, dependencies, cache)
    keys = frozenset(k for i in members for k in (prepared[i].group, prepared[i].service))
    return AlertGroup(
        alerts=tuple(chosen),
        root_cause=root,
        root_cause_reason=reason,
        severity=max_severity(a.severity for a in chosen),
        services=tuple(sorted({a.service for a in chosen})),
        keys=keys,
        started_at=chosen[0].starts_at,
        last_seen_at=max(a.seen_at for a in chosen),
        timeline=_timeline(chosen),
    )


def correlate(
    alerts: Sequence[Alert],
    *,
    window_s: float = DEFAULT_WINDOW_S,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    dependencies: Mapping[str, Sequence[str]] | None = None,
) -> list[AlertGroup]:
    """Correlate alerts into groups (future incidents), each with a root cause and timeline.

    See the module docstring for the rules. Run :func:`dedupe` first if the input may hold
    repeat notifications (repeats would otherwise count as separate members).

    Parameters
    ----------
    alerts:
        The alerts, in any order.
    window_s:
        Seconds: an alert joins a key's (or a neighbour service's) group when it starts at most
        this long after that group's last activity.
    group_by:
        Fields whose equal values correlate alerts (``service``, ``severity``, ``source`` or
        label names).
    dependencies:
        Optional service graph: ``{service: [services it depends on]}``.

    Returns
    -------
    list[AlertGroup]
        Groups ordered by start time.
    """
    prepared = _prepare(alerts, group_by)
    forest, order = _sweep(alerts, prepared, (), window_s=window_s, dependencies=dependencies)
    members: dict[int, list[int]] = {}
    for i in order:
        members.setdefault(forest.find(i), []).append(i)
    cache: dict[str, frozenset[str]] = {}
    groups = [
        _build_group(group, alerts, prepared, dependencies, cache) for group in members.values()
    ]
    groups.sort(key=lambda g: (g.started_at, g.root_cause.fingerprint))
    return groups


def join_open_incidents(
    alerts: Sequence[Alert],
    open_incidents: Sequence[OpenIncident],
    *,
    window_s: float = DEFAULT_WINDOW_S,
    group_by: Sequence[str] = DEFAULT_GROUP_BY,
    dependencies: Mapping[str, Sequence[str]] | None = None,
) -> JoinPlan:
    """Decide which open incident each new alert joins, and group the rest into new incidents.

    The same rules as :func:`correlate`, with each open incident acting as an earlier member
    active at its ``last_seen_at`` under its stored ``keys``. A repeat of an alert already in
    an incident (same fingerprint) joins it whatever the window. Two open incidents are never
    merged: an alert that links to both joins the first it links to (fingerprint, then own
    keys, then the most recently active neighbour service).

    Parameters
    ----------
    alerts:
        The new alerts (deduplicated).
    open_incidents:
        Incidents still open or acknowledged.
    window_s, group_by, dependencies:
        As for :func:`correlate`.

    Returns
    -------
    JoinPlan
        Joins per incident id, and new groups to open incidents for.
    """
    prepared = _prepare(alerts, group_by)
    forest, order = _sweep(
        alerts, prepared, open_incidents, window_s=window_s, dependencies=dependencies
    )
    n_seeds = len(open_incidents)
    joins: dict[str, list[Alert]] = {}
    fresh: dict[int, list[int]] = {}
    for i in order:
        root = forest.find(n_seeds + i)
        seed = forest.seed[root]
        if seed >= 0:
            joins.setdefault(open_incidents[seed].incident_id, []).append(alerts[i])
        else:
            fresh.setdefault(root, []).append(i)
    cache: dict[str, frozenset[str]] = {}
    new_groups = [
        _build_group(group, alerts, prepared, dependencies, cache) for group in fresh.values()
    ]
    new_groups.sort(key=lambda g: (g.started_at, g.root_cause.fingerprint))
    return JoinPlan(
        joins={incident: tuple(members) for incident, members in joins.items()},
        new_groups=new_groups,
    )


def group_to_dict(group: AlertGroup) -> dict[str, Any]:
    """A JSON-ready summary of a group (for storing on an incident).

    Parameters
    ----------
    group:
        The group.

    Returns
    -------
    dict[str, Any]
        ``severity, status, services, keys, started_at, last_seen_at, root_cause
        (fingerprint, service, message, reason), fingerprints, timeline``.
    """
    return {
        "severity": group.severity,
        "status": group.status,
        "services": list(group.services),
        "keys": sorted(group.keys),
        "started_at": iso_time(group.started_at),
        "last_seen_at": iso_time(group.last_seen_at),
        "root_cause": {
            "fingerprint": group.root_cause.fingerprint,
            "service": group.root_cause.service,
            "message": group.root_cause.message,
            "reason": group.root_cause_reason,
        },
        "fingerprints": sorted(group.fingerprints),
        "timeline": [
            {
                "at": iso_time(event.at),
                "kind": event.kind,
                "fingerprint": event.fingerprint,
                "service": event.service,
                "severity": event.severity,
                "message": event.message,
            }
            for event in group.timeline
        ],
    }
