"""Alerts: parsing (our JSON and Alertmanager webhooks), fingerprints, dedupe and correlation.

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

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from domain.aiops.incidents import (
    SEVERITY_ALIASES,
    SEVERITY_RANK,
    max_severity,
    severity_rank,
)
from domain.errors import DomainError

__all__ = [
    "DEFAULT_GROUP_BY",
    "DEFAULT_WINDOW_S",
    "Alert",
    "AlertBatch",
    "AlertGroup",
    "AlertParseError",
    "JoinPlan",
    "OpenIncident",
    "TimelineEvent",
    "alert_to_dict",
    "compute_fingerprint",
    "correlate",
    "dedupe",
    "group_key",
    "group_to_dict",
    "is_repeat",
    "join_open_incidents",
    "parse_alert",
    "parse_alertmanager",
    "parse_payload",
    "service_key",
]

DEFAULT_GROUP_BY: tuple[str, ...] = ("service", "cluster")
"""Correlate alerts of the same service in the same cluster (missing cluster = same)."""

DEFAULT_WINDOW_S: float = 300.0
"""Alerts more than five minutes after a group's last activity start a new group."""

FIRING = "firing"
RESOLVED = "resolved"
_SERVICE_LABELS = ("service", "job", "app")
_AM_ZERO_YEAR = 1  # Alertmanager's "0001-01-01T00:00:00Z" = unset


_OWN_FIELDS = frozenset(
    {
        "source",
        "service",
        "severity",
        "labels",
        "annotations",
        "starts_at",
        "ends_at",
        "message",
        "fingerprint",
        "status",
        "last_seen_at",
        "count",
        "generator_url",
    }
)


class AlertParseError(DomainError):
    """A payload does not have the expected alert shape."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert, whatever its source.

    Attributes
    ----------
    source:
        Who sent it (``"alertmanager"``, ``"triops"``...).
    service:
        The service it is about (``"unknown"`` when no label says).
    severity:
        Canonical severity: ``critical``, ``error``, ``warning`` or ``info``.
    labels:
        Identifying labels (strings).
    starts_at:
        When the condition started (timezone-aware UTC).
    message:
        Human summary.
    fingerprint:
        Stable identity: the source's if it gives one, else a hash of source + labels.
    status:
        ``"firing"`` or ``"resolved"``.
    ends_at:
        When it resolved (or, for a firing Alertmanager alert, its expected expiry);
        ``None`` when unset.
    annotations:
        Free-form extra text (summary, description, runbook...).
    generator_url:
        Link back to the source, if any.
    last_seen_at:
        When a notification for it was last received; ``None`` means ``starts_at``.
    count:
        Notifications received for this alert (repeat firings increase it).
    """

    source: str
    service: str
    severity: str
    labels: dict[str, str]
    starts_at: datetime
    message: str
    fingerprint: str
    status: str = FIRING
    ends_at: datetime | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    generator_url: str | None = None
    last_seen_at: datetime | None = None
    count: int = 1

    @property
    def seen_at(self) -> datetime:
        """Last activity: ``last_seen_at``, the resolution time, or ``starts_at``."""
        latest = self.last_seen_at or self.starts_at
        if self.status == RESOLVED and self.ends_at is not None and self.ends_at > latest:
            return self.ends_at
        return latest

    @property
    def alertname(self) -> str:
        """The ``alertname`` label, or ``""``."""
        return self.labels.get("alertname", "")


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Alerts parsed from one payload, with the envelope's metadata (Alertmanager only).

    Attributes
    ----------
    alerts:
        The parsed alerts in payload order.
    source:
        ``"alertmanager"`` or the source of our own shape.
    receiver, group_key, external_url:
        Alertmanager envelope fields (``""`` for our shape).
    truncated_alerts:
        How many alerts Alertmanager dropped because of ``max_alerts`` (they are not here).
    """

    alerts: list[Alert]
    source: str
    receiver: str = ""
    group_key: str = ""
    external_url: str = ""
    truncated_alerts: int = 0


# --------------------------------------------------------------------------- parsing


def _parse_time(value: Any, what: str) -> datetime | None:
    """Read an RFC 3339 string, epoch seconds or datetime into aware UTC; zero value → None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise AlertParseError(f"{what}: not an RFC 3339 time: {value!r}") from exc
    else:
        raise AlertParseError(f"{what}: not a time: {value!r}")
    if parsed.year == _AM_ZERO_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AlertParseError(f"{what}: expected an object, got {type(value).__name__}")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _service_from(labels: Mapping[str, str]) -> str:
    for name in _SERVICE_LABELS:
        if labels.get(name):
            return labels[name]
    return "unknown"


def _status(value: Any, ends_at: datetime | None, what: str) -> str:
    if value is None or value == "":
        return RESOLVED if ends_at is not None else FIRING
    text = str(value).strip().lower()
    if text not in (FIRING, RESOLVED):
        raise AlertParseError(f"{what}: status must be firing or resolved, got {value!r}")
    return text


def compute_fingerprint(labels: Mapping[str, str], *, source: str = "", service: str = "") -> str:
    """A stable identity for an alert that has none: hash of source, service and sorted labels.

    Parameters
    ----------
    labels:
        The alert's labels; order does not matter.
    source:
        The sender, so equal labels from two systems stay two alerts.
    service:
        The service (matters when labels are empty).

    Returns
    -------
    str
        16 lowercase hex characters (the length Alertmanager uses).
    """
    basis = json.dumps(
        [source, service, sorted(labels.items())], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def parse_severity(value: object, where: str) -> str:
    """The canonical severity of an alert's `severity` (field or label).

    Parameters
    ----------
    value:
        As the source wrote it: a canonical name (``critical``, ``error``, ``warning``,
        ``info``) or a documented synonym (``crit``, ``high``, ``warn``, ``P2``...), any
        case. Missing or empty means ``info``.
    where:
        Where the value was found, for the error message (``alert``, ``alerts[3]``).

    Returns
    -------
    str
        One of ``critical``, ``error``, ``warning``, ``info``.

    Raises
    ------
    AlertParseError
        For a value that is neither, listing what is accepted.
    """
    if value is None or str(value).strip() == "":
        return "info"
    canonical = SEVERITY_ALIASES.get(str(value).strip().lower())
    if canonical is None:
        synonyms = sorted(set(SEVERITY_ALIASES) - set(SEVERITY_RANK))
        raise AlertParseError(
            f"{where}: unknown severity {value!r}; accepted: {', '.join(SEVERITY_RANK)} "
            f"(or a synonym: {', '.join(synonyms)})"
        )
    return canonical


def _message_of(
    message: object, annotations: Mapping[str, str], labels: Mapping[str, str], severity: str
) -> str:
    """An alert's one-line text: never empty, so an incident title never ends in ': '."""
    text = (
        str(message or "")
        or annotations.get("summary")
        or annotations.get("description")
        or labels.get("alertname")
    )
    return text.strip() if text and text.strip() else f"{severity} alert"


def parse_alert(
    data: Mapping[str, Any],
    *,
    received_at: datetime | None = None,
    default_source: str = "triops",
) -> Alert:
    """Parse one alert in our own JSON shape (the inverse of :func:`alert_to_dict`).

    Shape: ``{"source", "service", "severity", "labels": {}, "annotations": {}, "starts_at",
    "ends_at", "message", "fingerprint", "status", "last_seen_at", "count",
    "generator_url"}``. Only ``starts_at`` (or ``received_at``) is required; ``service`` falls
    back to the labels ``service``/``job``/``app``, ``severity`` to the ``severity`` label,
    ``message`` to the ``alertname`` label, ``fingerprint`` to :func:`compute_fingerprint`.

    Parameters
    ----------
    data:
        The decoded JSON object.
    received_at:
        When it arrived; becomes ``last_seen_at`` and the default ``starts_at``.
    default_source:
        ``source`` when the object has none.

    Returns
    -------
    Alert
        The alert.

    Raises
    ------
    AlertParseError
        When the object is malformed.
    """
    if not isinstance(data, Mapping):
        raise AlertParseError(f"alert: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - _OWN_FIELDS)
    if unknown:
        raise AlertParseError(f"alert: unknown fields {unknown}; known: {sorted(_OWN_FIELDS)}")
    if not (data.get("service") or data.get("labels") or data.get("message")):
        raise AlertParseError("alert: give at least a service, labels or a message")
    labels = _str_map(data.get("labels"), "labels")
    annotations = _str_map(data.get("annotations"), "annotations")
    source = str(data.get("source") or default_source)
    service = str(data.get("service") or _service_from(labels))
    severity = parse_severity(data.get("severity") or labels.get("severity"), "alert")
    received = _parse_time(received_at, "received_at") if received_at is not None else None
    starts_at = _parse_time(data.get("starts_at"), "starts_at") or received
    if starts_at is None:
        raise AlertParseError("alert: starts_at is required")
    ends_at = _parse_time(data.get("ends_at"), "ends_at")
    status = _status(data.get("status"), ends_at, "alert")
    message = _message_of(data.get("message"), annotations, labels, severity)
    fingerprint = str(
        data.get("fingerprint") or compute_fingerprint(labels, source=source, service=service)
    )
    last_seen = _parse_time(data.get("last_seen_at"), "last_seen_at") or received
    try:
        count = int(data.get("count") or 1)
    except (TypeError, ValueError) as exc:
        raise AlertParseError(f"alert: count is not an integer: {data.get('count')!r}") from exc
    url = data.get("generator_url")
    return Alert(
        source=source,
        service=service,
        severity=severity,
        labels=labels,
        starts_at=starts_at,
        message=message,
        fingerprint=fingerprint,
        status=status,
        ends_at=ends_at,
        annotations=annotations,
        generator_url=str(url) if url else None,
        last_seen_at=last_seen,
        count=max(count, 1),
    )


def parse_alertmanager(
    payload: Mapping[str, Any], *, received_at: datetime | None = None
) -> AlertBatch:
    """Parse a Prometheus Alertmanager webhook payload (``"version": "4"``).

    Each entry of ``alerts`` becomes an :class:`Alert`: ``service`` from the labels
    ``service``, ``job`` or ``app``; ``severity`` from the ``severity`` label; ``message`` from
    the annotations ``summary`` then ``description``, else ``alertname``; ``fingerprint`` is
    Alertmanager's (computed when absent). ``endsAt`` ``"0001-01-01T00:00:00Z"`` means unset.

    Parameters
    ----------
    payload:
        The decoded webhook body (``receiver, status, alerts, groupLabels, commonLabels,
        commonAnnotations, externalURL, groupKey, truncatedAlerts``).
    received_at:
        When the webhook arrived; becomes each alert's ``last_seen_at``.

    Returns
    -------
    AlertBatch
        The alerts and the envelope metadata.

    Raises
    ------
    AlertParseError
        When the payload or one of its alerts is malformed.
    """
    if not isinstance(payload, Mapping):
        raise AlertParseError("alertmanager payload: expected an object")
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise AlertParseError("alertmanager payload: 'alerts' must be a list")
    seen = _parse_time(received_at, "received_at") if received_at is not None else None
    alerts: list[Alert] = []
    for index, raw in enumerate(raw_alerts):
        where = f"alerts[{index}]"
        if not isinstance(raw, Mapping):
            raise AlertParseError(f"{where}: expected an object")
        labels = _str_map(raw.get("labels"), f"{where}.labels")
        annotations = _str_map(raw.get("annotations"), f"{where}.annotations")
        starts_at = _parse_time(raw.get("startsAt"), f"{where}.startsAt") or seen
        if starts_at is None:
            raise AlertParseError(f"{where}: startsAt is required")
        ends_at = _parse_time(raw.get("endsAt"), f"{where}.endsAt")
        service = _service_from(labels)
        severity = parse_severity(labels.get("severity"), f"{where}.labels.severity")
        message = _message_of(None, annotations, labels, severity)
        fingerprint = str(raw.get("fingerprint") or "") or compute_fingerprint(
            labels, source="alertmanager", service=service
        )
        url = raw.get("generatorURL")
        alerts.append(
            Alert(
                source="alertmanager",
                service=service,
                severity=severity,
                labels=labels,
                starts_at=starts_at,
                message=message,
                fingerprint=fingerprint,
                status=_status(raw.get("status") or payload.get("status"), ends_at, where),
                ends_at=ends_at,
                annotations=annotations,
                generator_url=str(url) if url else None,
                last_seen_at=seen,
            )
        )
    try:
        truncated = int(payload.get("truncatedAlerts") or 0)
    except (TypeError, ValueError) as exc:
        raise AlertParseError("alertmanager payload: truncatedAlerts is not an integer") from exc
    return AlertBatch(
        alerts=alerts,
        source="alertmanager",
        receiver=str(payload.get("receiver") or ""),
        group_key=str(payload.get("groupKey") or ""),
        external_url=str(payload.get("externalURL") or ""),
        truncated_alerts=truncated,
    )


def _looks_like_alertmanager(payload: Mapping[str, Any]) -> bool:
    return isinstance(payload.get("alerts"), list) and any(
        key in payload for key in ("version", "receiver", "groupKey", "commonLabels")
    )


def parse_payload(payload: Any, *, received_at: datetime | None = None) -> AlertBatch:
    """Parse any accepted alert payload, detecting its shape.

    Accepted: an Alertmanager webhook body; one alert in our shape; a list of them; or
    ``{"alerts": [...]}`` of them.

    Parameters
    ----------
    payload:
        The decoded JSON body.
    received_at:
        When it arrived; becomes ``last_seen_at``.

    Returns
    -------
    AlertBatch
        The parsed alerts.

    Raises
    ------
    AlertParseError
        When the shape is not recognised or an alert is malformed.
    """
    if isinstance(payload, Mapping) and _looks_like_alertmanager(payload):
        return parse_alertmanager(payload, received_at=received_at)
    if isinstance(payload, Mapping) and isinstance(payload.get("alerts"), list):
        items: list[Any] = payload["alerts"]
    elif isinstance(payload, Mapping):
        items = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise AlertParseError(f"unrecognised alert payload: {type(payload).__name__}")
    alerts = []
    for index, item in enumerate(items):
        try:
            alerts.append(parse_alert(item, received_at=received_at))
        except AlertParseError as exc:
            raise AlertParseError(f"alerts[{index}]: {exc}") from exc
    source = alerts[0].source if alerts else "triops"
    return AlertBatch(alerts=alerts, source=source)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """Our JSON shape of an alert (read back by :func:`parse_alert`).

    Parameters
    ----------
    alert:
        The alert.

    Returns
    -------
    dict[str, Any]
        JSON-ready values; times as RFC 3339 UTC strings.
    """
    return {
        "source": alert.source,
        "service": alert.service,
        "severity": alert.severity,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": _iso(alert.starts_at),
        "ends_at": _iso(alert.ends_at),
        "message": alert.message,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "generator_url": alert.generator_url,
        "last_seen_at": _iso(alert.last_seen_at),
        "count": alert.count,
    }


# --------------------------------------------------------------------------- dedupe


REPEAT_GAP_S: float = 300.0
"""A firing alert silent for longer than this is over; its next firing is a new occurrence."""


def is_repeat(prev: Alert, alert: Alert, *, gap_s: float = REPEAT_GAP_S) -> bool:
    """Whether `alert` is another notification of the occurrence `prev` (same fingerprint).

    The same start is always the same occurrence (Alertmanager re-sends a firing alert
    with its original ``startsAt``). Otherwise it is a repeat while `prev` has not
    resolved and `alert` starts within ``gap_s`` seconds of `prev`'s last activity.

    Parameters
    ----------
    prev:
        The occurrence seen so far.
    alert:
        The newer notification, with the same fingerprint.
    gap_s:
        Seconds of silence after which a firing alert counts as over.

    Returns
    -------
    bool
        True to merge `alert` into `prev`.
    """
    if alert.starts_at == prev.starts_at:
        return True
    if prev.status == RESOLVED and alert.status == FIRING:
        return alert.starts_at <= (prev.ends_at or prev.seen_at)
    return (alert.starts_at - prev.seen_at).total_seconds() <= gap_s


def dedupe(alerts: Iterable[Alert], *, gap_s: float = REPEAT_GAP_S) -> list[Alert]:
    """Merge repeat notifications of the same alert (same fingerprint).

    Alerts are taken in receipt order. A repeat (see :func:`is_repeat`) keeps the first
    ``starts_at``, adds to ``count``, advances ``last_seen_at``, and takes the latest status,
    end, message, labels and severity. A firing that starts after the previous occurrence
    resolved, or after ``gap_s`` of silence, is a new occurrence (a separate alert with the
    same fingerprint).

    Parameters
    ----------
    alerts:
        Alerts in the order they were received.
    gap_s:
        See :func:`is_repeat`.

    Returns
    -------
    list[Alert]
        One alert per occurrence, in order of first receipt.
    """
    merged: list[Alert] = []
    current: dict[str, int] = {}
    for alert in alerts:
        index = current.get(alert.fingerprint)
        if index is not None:
            prev = merged[index]
            if is_repeat(prev, alert, gap_s=gap_s):
                merged[index] = replace(
                    alert,
                    starts_at=min(prev.starts_at, alert.starts_at),
                    last_seen_at=max(prev.seen_at, alert.seen_at),
                    count=prev.count + alert.count,
                    generator_url=alert.generator_url or prev.generator_url,
                )
                continue
        current[alert.fingerprint] = len(merged)
        merged.append(alert)
    return merged


# --------------------------------------------------------------------------- correlation


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
        "started_at": _iso(group.started_at),
        "last_seen_at": _iso(group.last_seen_at),
        "root_cause": {
            "fingerprint": group.root_cause.fingerprint,
            "service": group.root_cause.service,
            "message": group.root_cause.message,
            "reason": group.root_cause_reason,
        },
        "fingerprints": sorted(group.fingerprints),
        "timeline": [
            {
                "at": _iso(event.at),
                "kind": event.kind,
                "fingerprint": event.fingerprint,
                "service": event.service,
                "severity": event.severity,
                "message": event.message,
            }
            for event in group.timeline
        ],
    }
