"""Metric anomaly detection on one time series (timestamp, value): points and windows.

Input: a DataFrame with ``timestamp`` and ``value`` columns, or a Series indexed by timestamps.
Sampling may be irregular and have gaps; missing values are dropped, duplicate timestamps
averaged, non-numeric values rejected (:class:`SeriesError`). The whole series is used at once
(a batch job): the expected value at a point may depend on later points, never on labels.

Method ``"auto"`` (default) and ``"robust"``:

1. **Seasons.** ``"auto"`` models the seasons the series *shows* (:func:`detect_seasons`):
   a day or a week it is long enough for (:func:`possible_seasons`) whose autocorrelation,
   on the hourly-binned series with a rolling-median trend removed, reaches
   ``SEASON_MIN_ACF``. ``"robust"`` models every season the series is long enough for,
   shown or not (a flat metric then gets a seasonal shape fitted to its noise).
2. **Expected value** (:func:`fit_baseline`): the sampling step is the median gap between
   timestamps. The series is binned on an hourly grid (bin medians, gaps interpolated) and
   decomposed with statsmodels' robust STL (one season) or MSTL (daily and weekly); trend +
   seasonal components are interpolated back to every observed timestamp. statsmodels does
   this better than hand-written code: LOESS-based seasonal and trend smoothing with
   robustness weights, so outliers do not bend the baseline, and a seasonal shape that may
   drift slowly. The hourly grid bounds the cost (STL work grows with the points per period)
   and keeps sub-hour noise out of the baseline. A series without a season gets a robust
   LOWESS trend instead (statsmodels, local linear fits over 10 % of it).
3. **Score**: the residual (value - expected) as a robust z-score: median-centred, divided by
   1.4826 x MAD (a Gaussian-consistent sigma that anomalies barely move), so the threshold is
   in units of the series' own residual spread.
4. **Flag** (:func:`flag_extremes`) a point when ``|z| > threshold`` *and* it is among the
   ``max_anomaly_fraction`` most extreme points of its direction (at least
   ``min_flags_per_side`` per direction). The cap keeps heavy-tailed or spiky series (bursty
   CPU, mostly-zero counters) from flagging every routine spike, while a clean series still
   reports all its outliers; highs and lows are capped separately, so a level drop is not
   hidden by routine upward spikes.
5. **Severity** (0-100): ``100 * z^2 / (z^2 + threshold^2)``: 50 at the threshold, 80 at twice
   it, 90 at three times. ``score`` is the signed z (robust sigmas).

Method ``"isolation_forest"``: scikit-learn's IsolationForest on three features per point (the
robust residual z, its first difference, and the robustly scaled raw value), ``contamination``
of the points flagged. ``score`` is the forest's anomaly score in (0, 1) (Liu et al. 2008;
about 0.5 is ordinary); severity is 50 at the flagging cut, rising linearly to 100 at 1.

Anomalies closer than ``merge_gap`` (default 6 sampling steps) form one window.

Defaults (``SEASON_MIN_ACF`` 0.3, ``DEFAULT_THRESHOLD`` 6, ``MIN_FLAGS_PER_SIDE`` 10) were
chosen by leave-one-series-out on NAB realKnownCause (7 series, 19 windows; ``bench/nab.py``,
docs/aiops-quality.md): on each held-out series, knobs chosen on the other six hit 12 windows
with 27 false detections in total, against 9 and 56 for a rolling Gaussian z-score (288
points, |z| > 4). With the defaults on all seven (in-sample): 13 hits, 21 false detections
(``"robust"``: 13 and 24).

Known limits: seasonal features sharper than the hourly grid (a step at midnight, a
10-minute nightly job at 1-minute sampling) are smoothed in the baseline, so their edges can
flag; a level shift flags on both sides of the step (the trend is a centred smoother), within
a window that contains it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.ensemble import IsolationForest
from statsmodels.nonparametric.smoothers_lowess import lowess
from statsmodels.tsa.seasonal import MSTL, STL
from statsmodels.tsa.stattools import acf

from domain.errors import DomainError

__all__ = [
    "DEFAULT_MAX_ANOMALY_FRACTION",
    "DEFAULT_THRESHOLD",
    "MIN_CYCLES",
    "MIN_FLAGS_PER_SIDE",
    "MIN_POINTS",
    "SEASON_MIN_ACF",
    "Anomaly",
    "AnomalyResult",
    "AnomalyWindow",
    "Baseline",
    "Method",
    "SeriesError",
    "detect_anomalies",
    "detect_seasons",
    "fit_baseline",
    "flag_extremes",
    "merge_windows",
    "possible_seasons",
    "prepare_series",
    "robust_z",
    "sampling_step_s",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Method = Literal["auto", "robust", "isolation_forest"]

MIN_POINTS = 24
"""Fewest points (with a value) a series needs for anomaly detection."""
MIN_CYCLES = 3
"""A season (day, week) is modelled only when the series spans this many of them."""
MIN_FLAGS_PER_SIDE = 10
"""The fraction cap never allows fewer flags per direction than this (short series)."""
SEASON_MIN_ACF = 0.3
"""``"auto"``: a season is modelled when the detrended series' autocorrelation at its lag
reaches this (chosen by leave-one-series-out on NAB; see docs/aiops-quality.md)."""
DEFAULT_THRESHOLD = 6.0
"""Robust z a point must exceed (in MAD-based sigmas)."""
DEFAULT_MAX_ANOMALY_FRACTION = 0.001
"""At most this share of points is flagged per direction (high, low)."""
DEFAULT_CONTAMINATION = 0.002
"""Share of points the isolation forest flags."""
DEFAULT_MERGE_STEPS = 6
"""Anomalies at most this many sampling steps apart form one window (default ``merge_gap``)."""

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S
_GRID_CHOICES_S = (3_600.0, 7_200.0, 10_800.0, 14_400.0, 21_600.0, 28_800.0, 43_200.0, DAY_S)
_MIN_POINTS_PER_PERIOD = 4
_SEASONAL_WINDOW = 13
"""Cycles the STL seasonal smoother spans (odd). STL's default, 7, lets the seasonal shape
follow the noise: the residuals then understate the noise and clean synthetic series got
false alarms (8 in 30 three-week hourly series; none with 13)."""
_STL_OUTER_ITER = 2
"""Robustness passes of STL: the second pass already down-weights outliers; STL's default 15
passes took 5x the time for the same NAB figures."""
_TREND_FRACTION = 0.1
"""Share of a season-less series each local trend fit spans."""
_MAD_TO_SIGMA = 1.4826
_MEAN_AD_TO_SIGMA = math.sqrt(math.pi / 2)


class SeriesError(DomainError):
    """The input is not a usable time series; the message says why, in plain words."""


class Anomaly(TypedDict):
    """One flagged point."""

    timestamp: str
    """ISO 8601 timestamp of the point."""
    value: float
    """Observed value."""
    expected: float
    """Baseline (trend + seasonal) value at that time."""
    score: float
    """Method score: robust z (signed, sigmas) or isolation-forest anomaly score (0-1)."""
    severity: float
    """0-100; 50 at the flagging threshold."""


class AnomalyWindow(TypedDict):
    """Nearby anomalies merged into one episode."""

    start: str
    end: str
    max_severity: float
    points: int


@dataclass(frozen=True, slots=True)
class AnomalyResult:
    """What :func:`detect_anomalies` found.

    Attributes
    ----------
    method:
        ``"auto"``, ``"robust"`` or ``"isolation_forest"``.
    anomalies:
        Flagged points in time order.
    windows:
        Anomalies merged by proximity, in time order.
    points:
        Points analysed (after dropping missing values and merging duplicate timestamps).
    sampling_s:
        Inferred sampling step in seconds (median gap).
    seasonal_periods_s:
        Seasons modelled, in seconds (86400 daily, 604800 weekly); empty when none.
    """

    method: str
    anomalies: list[Anomaly]
    windows: list[AnomalyWindow]
    points: int
    sampling_s: float
    seasonal_periods_s: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of the result."""
        return {
            "method": self.method,
            "anomalies": [dict(a) for a in self.anomalies],
            "windows": [dict(w) for w in self.windows],
            "points": self.points,
            "sampling_s": self.sampling_s,
            "seasonal_periods_s": list(self.seasonal_periods_s),
        }


@dataclass(frozen=True, slots=True)
class Baseline:
    """Expected values of a series, from :func:`fit_baseline`.

    Attributes
    ----------
    expected:
        Trend + seasonal value at each observed timestamp (same units as the values).
    sampling_s:
        Inferred sampling step in seconds.
    seasonal_periods_s:
        Seasons modelled, in seconds; empty when the series was too short for any.
    """

    expected: FloatArray
    sampling_s: float
    seasonal_periods_s: tuple[float, ...]


def prepare_series(data: pd.DataFrame | pd.Series, *, min_points: int = MIN_POINTS) -> pd.Series:
    """Validate and normalise a metric series.

    Parameters
    ----------
    data:
        A DataFrame with columns ``timestamp`` (datetimes or date strings, naive or with one
        time zone) and ``value`` (numbers; missing values allowed), or a Series of values
        indexed by timestamps.
    min_points:
        Fewest points with a value required.

    Returns
    -------
    pandas.Series
        float64 values on a sorted, unique DatetimeIndex; missing values dropped, duplicate
        timestamps averaged.

    Raises
    ------
    SeriesError
        Missing columns, unparseable or numeric timestamps, non-numeric or infinite values,
        or fewer than ``min_points`` points.
    """
    if isinstance(data, pd.DataFrame):
        missing = [c for c in ("timestamp", "value") if c not in data.columns]
        if missing:
            raise SeriesError(
                f"the table needs columns 'timestamp' and 'value'; missing: {', '.join(missing)}"
            )
        raw_ts = pd.Series(data["timestamp"].to_numpy())
        raw_values = pd.Series(data["value"].to_numpy())
    elif isinstance(data, pd.Series):
        raw_ts = pd.Series(data.index)
        raw_values = pd.Series(data.to_numpy())
    else:
        raise SeriesError(
            "expected a DataFrame with 'timestamp' and 'value' columns "
            f"or a Series indexed by timestamps, got {type(data).__name__}"
        )
    if pd.api.types.is_numeric_dtype(raw_ts) and not pd.api.types.is_bool_dtype(raw_ts):
        raise SeriesError("timestamps must be datetimes or date strings, not numbers")
    timestamps = _parse_timestamps(raw_ts)
    if timestamps.isna().any():
        raise SeriesError(f"{int(timestamps.isna().sum())} timestamp(s) are missing")

    values = pd.to_numeric(raw_values, errors="coerce").astype("float64")
    not_numbers = values.isna() & raw_values.notna()
    if not_numbers.any():
        example = raw_values[not_numbers].iloc[0]
        raise SeriesError(
            f"{int(not_numbers.sum())} value(s) are not numbers, for example {example!r}"
        )
    if np.isinf(values.to_numpy()).any():
        raise SeriesError("values must be finite; the series holds infinite values")

    series = pd.Series(values.to_numpy(), index=pd.DatetimeIndex(timestamps), name="value")
    series = series.dropna()
    series = series.groupby(level=0).mean().sort_index()
    if len(series) < min_points:
        raise SeriesError(
            f"at least {min_points} points with a value are needed, got {len(series)}"
        )
    return series


def sampling_step_s(index: pd.DatetimeIndex) -> float:
    """Sampling step of a sorted, unique DatetimeIndex: the median gap, in seconds.

    Parameters
    ----------
    index:
        At least two sorted, distinct timestamps.

    Returns
    -------
    float
        Median gap between consecutive timestamps, seconds (> 0).
    """
    gaps = (index[1:] - index[:-1]).total_seconds().to_numpy(dtype=np.float64)
    return float(np.median(gaps))


def fit_baseline(series: pd.Series, *, periods_s: Sequence[float] | None = None) -> Baseline:
    """Expected value (trend + daily/weekly seasonality) at every point of a series.

    Parameters
    ----------
    series:
        Output of :func:`prepare_series` (float values on a sorted unique DatetimeIndex).
    periods_s:
        Seasons to model, in seconds (a subset of :func:`possible_seasons`, e.g. from
        :func:`detect_seasons`); None models every possible one (day, week).

    Returns
    -------
    Baseline
        Expected values aligned with ``series``, the sampling step and the seasons modelled.
    """
    index = pd.DatetimeIndex(series.index)
    values = series.to_numpy(dtype=np.float64)
    step_s = sampling_step_s(index)
    grid_s = _grid_step_s(step_s)
    possible = possible_seasons(series)
    periods = possible if periods_s is None else tuple(p for p in possible if p in periods_s)
    if not periods:
        return Baseline(_lowess_trend(index, values), step_s, ())

    grid = series.resample(pd.Timedelta(seconds=grid_s), origin=index[0]).median()
    y = grid.interpolate(method="time").to_numpy(dtype=np.float64)
    lengths = [round(p / grid_s) for p in periods]
    if len(lengths) == 1:
        stl = STL(y, period=lengths[0], seasonal=_SEASONAL_WINDOW, robust=True).fit(
            inner_iter=2, outer_iter=_STL_OUTER_ITER
        )
        fitted = np.asarray(stl.trend) + np.asarray(stl.seasonal)
    else:
        mstl = MSTL(
            y,
            periods=lengths,
            windows=[_SEASONAL_WINDOW, _SEASONAL_WINDOW + 4],
            stl_kwargs={"robust": True, "inner_iter": 2, "outer_iter": _STL_OUTER_ITER},
        ).fit()
        fitted = y - np.asarray(mstl.resid)
    # A bin's value stands for the mean time of the points it holds.
    centre_s = np.arange(len(y)) * grid_s + max(0.0, (grid_s - step_s) / 2)
    point_s = (index - index[0]).total_seconds().to_numpy(dtype=np.float64)
    return Baseline(np.interp(point_s, centre_s, fitted), step_s, periods)


def possible_seasons(series: pd.Series) -> tuple[float, ...]:
    """Seasons (day, week; in seconds) a series is long and fine enough to model: it spans
    ``MIN_CYCLES`` of them and the decomposition grid has at least 4 points per period.

    Parameters
    ----------
    series:
        Output of :func:`prepare_series`.

    Returns
    -------
    tuple[float, ...]
        ``DAY_S`` and/or ``WEEK_S``, possibly empty.
    """
    index = pd.DatetimeIndex(series.index)
    span_s = (index[-1] - index[0]).total_seconds()
    grid_s = _grid_step_s(sampling_step_s(index))
    return tuple(
        p
        for p in (DAY_S, WEEK_S)
        if span_s >= MIN_CYCLES * p and p / grid_s >= _MIN_POINTS_PER_PERIOD
    )


def detect_seasons(series: pd.Series, *, min_acf: float = SEASON_MIN_ACF) -> tuple[float, ...]:
    """The seasons a series shows, from its own autocorrelation (no labels).

    The series is binned on the decomposition grid (hourly, or coarser for coarse
    sampling; bin medians, gaps interpolated), detrended by a centred rolling median over
    a week (at most a third of the series), and a possible season (:func:`possible_seasons`)
    is kept when the autocorrelation (statsmodels ``acf``) at its lag reaches ``min_acf``;
    a week is tested after the mean daily profile is removed, when a day was kept (a daily
    cycle alone also correlates at a week's lag).

    Parameters
    ----------
    series:
        Output of :func:`prepare_series`.
    min_acf:
        Autocorrelation a season must show, 0-1.

    Returns
    -------
    tuple[float, ...]
        ``DAY_S`` and/or ``WEEK_S`` (seconds), possibly empty.
    """
    possible = possible_seasons(series)
    if not possible:
        return ()
    index = pd.DatetimeIndex(series.index)
    grid_s = _grid_step_s(sampling_step_s(index))
    grid = series.resample(pd.Timedelta(seconds=grid_s), origin=index[0]).median()
    y = grid.interpolate(method="time").to_numpy(dtype=np.float64)
    window = int(min(len(y) // 3, WEEK_S / grid_s)) | 1
    residual = y - pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    if float(np.std(residual)) == 0.0:
        return ()
    found: list[float] = []
    for period in possible:
        lag = round(period / grid_s)
        shown = residual
        for shorter in found:  # a daily cycle repeats at a week's lag: look beyond it
            step = round(shorter / grid_s)
            phase = np.arange(len(shown)) % step
            profile = np.bincount(phase, weights=shown) / np.bincount(phase)
            shown = shown - profile[phase]
        if float(np.std(shown)) > 0.0 and acf(shown, nlags=lag, fft=True)[lag] >= min_acf:
            found.append(period)
    return tuple(found)


def robust_z(residuals: FloatArray) -> FloatArray:
    """Median-centred residuals divided by a robust sigma (1.4826 x MAD).

    Parameters
    ----------
    residuals:
        Values minus their expected values.

    Returns
    -------
    numpy.ndarray
        z-scores in robust sigmas. When more than half the residuals are equal (MAD = 0),
        the mean absolute deviation stands in; a constant series gets all zeros.
    """
    deviation = residuals - np.median(residuals)
    absolute = np.abs(deviation)
    scale = _MAD_TO_SIGMA * float(np.median(absolute))
    tiny = 1e-9 * max(1.0, float(np.median(np.abs(residuals))))
    if scale <= tiny:
        scale = _MEAN_AD_TO_SIGMA * float(np.mean(absolute))
    if scale <= tiny:
        return np.zeros_like(deviation)
    return deviation / scale


def detect_anomalies(
    data: pd.DataFrame | pd.Series,
    *,
    method: Method = "auto",
    threshold: float = DEFAULT_THRESHOLD,
    max_anomaly_fraction: float = DEFAULT_MAX_ANOMALY_FRACTION,
    contamination: float = DEFAULT_CONTAMINATION,
    merge_gap: timedelta | None = None,
    random_state: int = 0,
    min_flags_per_side: int = MIN_FLAGS_PER_SIDE,
    season_min_acf: float = SEASON_MIN_ACF,
) -> AnomalyResult:
    """Find anomalous points and windows in a metric series.

    Parameters
    ----------
    data:
        DataFrame with ``timestamp`` and ``value`` columns, or a Series indexed by timestamps
        (see :func:`prepare_series`). At least ``MIN_POINTS`` points.
    method:
        ``"auto"`` (default: the seasons the series shows, see :func:`detect_seasons`,
        then the robust detector), ``"robust"`` (every season the series is long enough
        for, then robust z) or ``"isolation_forest"``.
    threshold:
        Auto/robust: |z| (in robust sigmas) a point must exceed. Higher is less sensitive.
    max_anomaly_fraction:
        Auto/robust: at most this share of points flagged per direction (but at least
        ``min_flags_per_side`` allowed). 0 < fraction < 0.5.
    contamination:
        Isolation forest: share of points flagged, 0 < contamination <= 0.5.
    merge_gap:
        Anomalies at most this far apart share a window; default 6 sampling steps.
    random_state:
        Seed of the isolation forest (results are reproducible).
    min_flags_per_side:
        Auto/robust: the share cap never allows fewer flags than this per direction (>= 1).
    season_min_acf:
        Auto: autocorrelation a season must show to be modelled (0-1).

    Returns
    -------
    AnomalyResult
        Anomalies (ISO timestamp, value, expected, score, severity 0-100) and windows
        (start, end, max_severity, points).

    Raises
    ------
    SeriesError
        Unusable input (see :func:`prepare_series`).
    ValueError
        Out-of-range parameters.
    """
    if threshold <= 0:
        raise ValueError("threshold must be positive")
    if not 0 < max_anomaly_fraction < 0.5:
        raise ValueError("max_anomaly_fraction must be between 0 and 0.5")
    if not 0 < contamination <= 0.5:
        raise ValueError("contamination must be in (0, 0.5]")
    if min_flags_per_side < 1:
        raise ValueError("min_flags_per_side must be at least 1")
    if method not in ("auto", "robust", "isolation_forest"):
        raise ValueError(f"unknown method {method!r}; use 'auto', 'robust' or 'isolation_forest'")
    series = prepare_series(data)
    periods = detect_seasons(series, min_acf=season_min_acf) if method == "auto" else None
    baseline = fit_baseline(series, periods_s=periods)
    values = series.to_numpy(dtype=np.float64)
    z = robust_z(values - baseline.expected)

    if method in ("auto", "robust"):
        flagged = flag_extremes(z, threshold, max_anomaly_fraction, min_flags_per_side)
        scores = z
        severities = 100.0 * z**2 / (z**2 + threshold**2)
    else:
        scores, severities, flagged = _isolation_forest(values, z, contamination, random_state)

    index = pd.DatetimeIndex(series.index)
    anomalies: list[Anomaly] = [
        {
            "timestamp": index[i].isoformat(),
            "value": float(values[i]),
            "expected": round(float(baseline.expected[i]), 6),
            "score": round(float(scores[i]), 3),
            "severity": round(float(severities[i]), 1),
        }
        for i in (int(j) for j in np.flatnonzero(flagged))
    ]
    gap = (
        merge_gap
        if merge_gap is not None
        else timedelta(seconds=DEFAULT_MERGE_STEPS * baseline.sampling_s)
    )
    return AnomalyResult(
        method=method,
        anomalies=anomalies,
        windows=merge_windows(anomalies, gap),
        points=len(series),
        sampling_s=baseline.sampling_s,
        seasonal_periods_s=baseline.seasonal_periods_s,
    )


def merge_windows(anomalies: list[Anomaly], gap: timedelta) -> list[AnomalyWindow]:
    """Merge anomalies into windows: a new window starts after a pause longer than ``gap``.

    Parameters
    ----------
    anomalies:
        Anomalies in any order (ISO timestamps).
    gap:
        Longest pause between two anomalies of the same window.

    Returns
    -------
    list of AnomalyWindow
        ``start``/``end`` (ISO timestamps of the first and last anomaly), ``max_severity``
        and ``points`` (anomalies in the window), in time order.
    """
    windows: list[AnomalyWindow] = []
    last: pd.Timestamp | None = None
    for anomaly in sorted(anomalies, key=lambda a: pd.Timestamp(a["timestamp"])):
        at = pd.Timestamp(anomaly["timestamp"])
        if last is None or at - last > gap:
            windows.append(
                {
                    "start": anomaly["timestamp"],
                    "end": anomaly["timestamp"],
                    "max_severity": anomaly["severity"],
                    "points": 1,
                }
            )
        else:
            current = windows[-1]
            current["end"] = anomaly["timestamp"]
            current["max_severity"] = max(current["max_severity"], anomaly["severity"])
            current["points"] += 1
        last = at
    return windows


def _parse_timestamps(raw: pd.Series) -> pd.Series:
    """Datetimes as they are; strings as ISO 8601, else element by element (a stated format,
    so pandas does not warn about guessing one). Mixed UTC offsets (daylight saving time)
    are converted to UTC."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw
    error: Exception | None = None
    for fmt in ("ISO8601", "mixed"):
        for utc in (False, True):
            try:
                return pd.to_datetime(raw, format=fmt, utc=utc)
            except (ValueError, TypeError, OverflowError) as exc:
                error = exc
    reason = str(error).splitlines()[0] if error else "unknown format"
    raise SeriesError(f"timestamps could not be read as dates: {reason}")


def _grid_step_s(step_s: float) -> float:
    """Decomposition grid: hourly, or the next divisor of a day at or above the step."""
    if step_s > DAY_S:
        return step_s
    return next(g for g in _GRID_CHOICES_S if g >= step_s)


def _lowess_trend(index: pd.DatetimeIndex, values: FloatArray) -> FloatArray:
    """Robust LOWESS trend (local linear fits over ``_TREND_FRACTION`` of the series, outliers
    down-weighted), for series too short for a season."""
    x = (index - index[0]).total_seconds().to_numpy(dtype=np.float64)
    frac = min(1.0, max(_TREND_FRACTION, 7 / len(values)))
    fitted = lowess(values, x, frac=frac, it=2, delta=0.002 * x[-1], return_sorted=False)
    return np.asarray(fitted, dtype=np.float64)


def flag_extremes(
    z: FloatArray,
    threshold: float,
    fraction: float = DEFAULT_MAX_ANOMALY_FRACTION,
    min_flags: int = MIN_FLAGS_PER_SIDE,
) -> BoolArray:
    """Points with ``|z| > threshold``, at most ``max(min_flags, fraction * n)`` per
    direction (the most extreme highs and lows).

    Parameters
    ----------
    z:
        Robust z-scores (see :func:`robust_z`).
    threshold:
        |z| a point must exceed, in robust sigmas.
    fraction:
        Largest share of points flagged per direction.
    min_flags:
        The share never allows fewer flags than this per direction.

    Returns
    -------
    numpy.ndarray
        One boolean per point.
    """
    n = len(z)
    k = max(min_flags, int(fraction * n))
    high_cut, low_cut = threshold, -threshold
    if k < n:
        high_cut = max(threshold, float(np.partition(z, n - k - 1)[n - k - 1]))
        low_cut = min(-threshold, float(np.partition(z, k)[k]))
    flagged: BoolArray = (z > high_cut) | (z < low_cut)
    return flagged


def _isolation_forest(
    values: FloatArray, z: FloatArray, contamination: float, random_state: int
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Scores, severities and flags from an isolation forest on per-point features."""
    features = np.column_stack([z, np.diff(z, prepend=z[0]), robust_z(values)])
    forest = IsolationForest(
        n_estimators=200, contamination=contamination, random_state=random_state
    )
    forest.fit(features)
    scores = -forest.score_samples(features)  # the paper's anomaly score, in (0, 1)
    cut = float(-forest.offset_)
    flagged: BoolArray = scores > cut
    span = max(1.0 - cut, 1e-9)
    severities = np.where(
        flagged,
        50.0 + 50.0 * np.clip((scores - cut) / span, 0.0, 1.0),
        50.0 * np.clip(scores / max(cut, 1e-9), 0.0, 1.0),
    )
    return scores, severities, flagged
