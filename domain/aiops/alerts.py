"""Alerts: parsing (our JSON and Alertmanager webhooks), severities, fingerprints, dedupe.

Pure logic over plain values: no clock (times are parameters), no I/O. Folding alerts into
incidents is `domain.aiops.correlation`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from domain.aiops.incidents import (
    SEVERITY_ALIASES,
    SEVERITY_RANK,
)
from domain.errors import DomainError

__all__ = [
    "Alert",
    "AlertBatch",
    "AlertParseError",
    "alert_to_dict",
    "compute_fingerprint",
    "dedupe",
    "is_repeat",
    "parse_alert",
    "parse_alertmanager",
    "parse_payload",
    "parse_severity",
]

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


def iso_time(value: datetime | None) -> str | None:
    """A time as ISO 8601 text (None stays None)."""
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
        "starts_at": iso_time(alert.starts_at),
        "ends_at": iso_time(alert.ends_at),
        "message": alert.message,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "generator_url": alert.generator_url,
        "last_seen_at": iso_time(alert.last_seen_at),
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
