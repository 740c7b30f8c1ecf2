"""Event counts of a log for anomaly detection: lines grouped into time windows or
sessions, each row a vector of event (template) counts. Pure logic, no I/O.

A line is a :class:`LogRecord` (its event id from template mining, an optional timestamp,
an optional session key or the raw content to extract one from).
:func:`count_by_window` counts per fixed time window, :func:`count_by_session` per
session (e.g. the HDFS block id); both return :class:`EventCounts`, which
`log_anomalies` weighs and scores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from domain.user_regex import compile_user_regex

__all__ = [
    "HDFS_BLOCK_PATTERN",
    "EventCounts",
    "LogRecord",
    "count_by_session",
    "count_by_window",
    "extract_session_keys",
    "row_labels",
]

HDFS_BLOCK_PATTERN = r"blk_-?\d+"
"""Session key of HDFS logs: the block id."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log line, reduced to what detection needs.

    Attributes
    ----------
    event_id:
        The template/event id the line was mined into.
    timestamp_s:
        Epoch seconds, or ``None`` when the line has no usable time.
    session:
        The session key if already known, else ``None``.
    content:
        The raw message, used to extract session keys when ``session`` is ``None``.
    """

    event_id: str
    timestamp_s: float | None = None
    session: str | None = None
    content: str | None = None


def extract_session_keys(
    content: str, pattern: str | re.Pattern[str] = HDFS_BLOCK_PATTERN
) -> tuple[str, ...]:
    """All distinct session keys in a message, in order of appearance.

    Parameters
    ----------
    content:
        The log message.
    pattern:
        Regular expression of a key (default: HDFS block id ``blk_-?\\d+``). If it has a
        capturing group, group 1 is the key.

    Returns
    -------
    tuple[str, ...]
        The keys (a line may touch several sessions), possibly empty.
    """
    regex = compile_user_regex(pattern, "session_pattern") if isinstance(pattern, str) else pattern
    keys: dict[str, None] = {}
    for match in regex.finditer(content):
        keys[match.group(1) if regex.groups else match.group(0)] = None
    return tuple(keys)


@dataclass(frozen=True, eq=False)
class EventCounts:
    """Event-count vectors, one row per time window or session.

    Attributes
    ----------
    keys:
        Row identity: the window start as RFC 3339 UTC, or the session key.
    starts_s:
        Window start (epoch seconds) or the session's first timestamp (``nan`` if unknown).
    event_ids:
        Column identity, sorted.
    matrix:
        Counts, shape ``(rows, events)``.
    lines:
        Per row, the indices of the input records counted in it.
    skipped_lines:
        Records that fit no row (no timestamp, or no session key).
    """

    keys: tuple[str, ...]
    starts_s: FloatArray
    event_ids: tuple[str, ...]
    matrix: FloatArray
    lines: tuple[IntArray, ...]
    skipped_lines: int = 0

    def __len__(self) -> int:
        return len(self.keys)


def _rows_from_codes(
    row_codes: IntArray, event_codes: IntArray, n_rows: int, n_events: int
) -> tuple[FloatArray, tuple[IntArray, ...]]:
    """Count matrix and per-row line indices from parallel (row, event) codes per line."""
    flat = row_codes * n_events + event_codes
    matrix = np.bincount(flat, minlength=n_rows * n_events).astype(np.float64)
    order = np.argsort(row_codes, kind="stable")
    bounds = np.searchsorted(row_codes[order], np.arange(n_rows + 1))
    return matrix.reshape(n_rows, n_events), tuple(np.split(order, bounds[1:-1]))


def count_by_window(records: Sequence[LogRecord], *, window_s: float) -> EventCounts:
    """Count events per fixed time window.

    Windows are aligned to multiples of ``window_s`` since the epoch (so two calls agree),
    and only windows holding at least one line are rows.

    Parameters
    ----------
    records:
        The lines, any order. Lines without a timestamp are skipped.
    window_s:
        Window length in seconds (> 0).

    Returns
    -------
    EventCounts
        Rows in time order; ``lines`` index into ``records``.
    """
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    stamps = np.array(
        [np.nan if r.timestamp_s is None else float(r.timestamp_s) for r in records],
        dtype=np.float64,
    )
    keep = np.flatnonzero(~np.isnan(stamps))
    event_codes, event_ids = pd.factorize(
        pd.Series([records[i].event_id for i in keep.tolist()], dtype=object), sort=True
    )
    window_index = np.floor(stamps[keep] / window_s).astype(np.int64)
    unique_windows, row_codes = np.unique(window_index, return_inverse=True)
    matrix, local_lines = _rows_from_codes(
        row_codes.astype(np.int64),
        event_codes.astype(np.int64),
        len(unique_windows),
        len(event_ids),
    )
    starts = unique_windows.astype(np.float64) * window_s
    keys = tuple(
        datetime.fromtimestamp(float(s), tz=UTC).isoformat().replace("+00:00", "Z") for s in starts
    )
    return EventCounts(
        keys=keys,
        starts_s=starts,
        event_ids=tuple(str(e) for e in event_ids),
        matrix=matrix,
        lines=tuple(keep[idx].astype(np.int64) for idx in local_lines),
        skipped_lines=len(records) - len(keep),
    )


def count_by_session(
    records: Sequence[LogRecord],
    *,
    session_pattern: str | re.Pattern[str] | None = HDFS_BLOCK_PATTERN,
) -> EventCounts:
    """Count events per session.

    A line's sessions are its ``session`` field, else the keys ``session_pattern`` finds in
    its ``content`` (a line naming two blocks counts in both). Lines with neither are skipped.

    Parameters
    ----------
    records:
        The lines, in log order.
    session_pattern:
        Key regex for :func:`extract_session_keys`; ``None`` uses only ``session`` fields.

    Returns
    -------
    EventCounts
        Rows in order of each session's first line.
    """
    regex = (
        compile_user_regex(session_pattern, "session_pattern")
        if isinstance(session_pattern, str)
        else session_pattern
    )
    session_index: dict[str, int] = {}
    line_of: list[int] = []
    row_of: list[int] = []
    skipped = 0
    for index, record in enumerate(records):
        if record.session:
            sessions: tuple[str, ...] = (record.session,)
        elif regex is not None and record.content:
            sessions = extract_session_keys(record.content, regex)
        else:
            sessions = ()
        if not sessions:
            skipped += 1
            continue
        for key in sessions:
            line_of.append(index)
            row_of.append(session_index.setdefault(key, len(session_index)))
    lines_arr = np.asarray(line_of, dtype=np.int64)
    rows_arr = np.asarray(row_of, dtype=np.int64)
    event_codes, event_ids = pd.factorize(
        pd.Series([records[i].event_id for i in line_of], dtype=object), sort=True
    )
    matrix, local_lines = _rows_from_codes(
        rows_arr, event_codes.astype(np.int64), len(session_index), len(event_ids)
    )
    stamps = np.array(
        [np.nan if records[i].timestamp_s is None else records[i].timestamp_s for i in line_of],
        dtype=np.float64,
    )
    starts = np.full(len(session_index), np.nan)
    if len(stamps) and not np.all(np.isnan(stamps)):
        starts = (
            pd.Series(stamps).groupby(rows_arr).min().reindex(range(len(session_index))).to_numpy()
        )
    return EventCounts(
        keys=tuple(session_index),
        starts_s=starts.astype(np.float64),
        event_ids=tuple(str(e) for e in event_ids),
        matrix=matrix,
        lines=tuple(lines_arr[idx] for idx in local_lines),
        skipped_lines=skipped,
    )


def row_labels(counts: EventCounts, line_is_anomalous: npt.ArrayLike) -> BoolArray:
    """Label rows from line labels: a row is anomalous if any of its lines is.

    Parameters
    ----------
    counts:
        The rows (their ``lines`` index into the labels).
    line_is_anomalous:
        One boolean per input record.

    Returns
    -------
    numpy.ndarray
        One boolean per row.
    """
    labels = np.asarray(line_is_anomalous, dtype=bool)
    return np.array([bool(labels[idx].any()) for idx in counts.lines], dtype=bool)
