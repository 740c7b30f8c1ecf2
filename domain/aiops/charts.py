"""PNG charts for metric anomalies and capacity forecasts, rendered to bytes.

matplotlib figures are built directly (``matplotlib.figure.Figure`` on an Agg canvas), never
through pyplot: no global figure state, no GUI backend, safe in worker processes and threads.
Nothing is written to disk; each function returns the PNG file's bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from domain.aiops.forecast import ForecastResult
from domain.aiops.metrics import AnomalyResult, prepare_series

__all__ = ["PNG_SIGNATURE", "anomaly_chart_png", "forecast_chart_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
"""The first eight bytes of every PNG file."""

_SIZE_IN = (12.0, 4.0)
_DPI = 100
_LINE = "#1f77b4"
_ANOMALY = "#d62728"
_FORECAST = "#ff7f0e"
_THRESHOLD = "#7f7f7f"


def anomaly_chart_png(
    series_df: pd.DataFrame | pd.Series,
    anomalies: AnomalyResult | Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
) -> bytes:
    """Line chart of a metric with its anomalies marked (and windows shaded).

    Parameters
    ----------
    series_df:
        The metric: DataFrame with ``timestamp`` and ``value`` columns, or a Series indexed
        by timestamps.
    anomalies:
        An :class:`~domain.aiops.metrics.AnomalyResult` (its windows are shaded too), or a
        sequence of mappings with ``timestamp`` (ISO string or datetime) and ``value``.
    title:
        Chart title (optional).

    Returns
    -------
    bytes
        A PNG image (1200 x 400 px).
    """
    series = prepare_series(series_df, min_points=1)
    points = anomalies.anomalies if isinstance(anomalies, AnomalyResult) else anomalies
    windows = anomalies.windows if isinstance(anomalies, AnomalyResult) else []

    figure, axes = _figure()
    axes.plot(_dates(series.index), series.to_numpy(), color=_LINE, linewidth=0.8, label="value")
    for window in windows:
        axes.axvspan(
            _date(window["start"]), _date(window["end"]), color=_ANOMALY, alpha=0.12, linewidth=0
        )
    if points:
        axes.scatter(
            [_date(p["timestamp"]) for p in points],
            [float(p["value"]) for p in points],
            color=_ANOMALY,
            s=24,
            zorder=3,
            label=f"anomalies ({len(points)})",
        )
    _finish(figure, axes, title)
    return _png(figure)


def forecast_chart_png(
    history_df: pd.DataFrame | pd.Series,
    forecast: ForecastResult | Mapping[str, Any],
    threshold: float | None = None,
    *,
    title: str | None = None,
) -> bytes:
    """History, mean forecast, prediction band and threshold line.

    Parameters
    ----------
    history_df:
        The observed series: DataFrame with ``timestamp`` and ``value`` columns, or a Series
        indexed by timestamps.
    forecast:
        A :class:`~domain.aiops.forecast.ForecastResult` or its ``to_dict()`` form
        (``points`` with ``timestamp``, ``mean``, ``lower``, ``upper``; ``confidence``).
    threshold:
        Level drawn as a horizontal line; default: the forecast's crossing threshold, if any.
        The expected crossing time is marked when known.

    Returns
    -------
    bytes
        A PNG image (1200 x 400 px).
    """
    history = prepare_series(history_df, min_points=1)
    data = forecast.to_dict() if isinstance(forecast, ForecastResult) else dict(forecast)
    points = list(data.get("points", []))
    crossing = data.get("crossing") or {}
    if threshold is None and crossing:
        threshold = float(crossing["threshold"])
    confidence = float(data.get("confidence", 0.95))

    figure, axes = _figure()
    axes.plot(
        _dates(history.index), history.to_numpy(), color=_LINE, linewidth=0.8, label="history"
    )
    if points:
        times = [_date(p["timestamp"]) for p in points]
        axes.fill_between(
            times,
            [float(p["lower"]) for p in points],
            [float(p["upper"]) for p in points],
            color=_FORECAST,
            alpha=0.2,
            linewidth=0,
            label=f"{confidence:.0%} interval",
        )
        axes.plot(
            times,
            [float(p["mean"]) for p in points],
            color=_FORECAST,
            linewidth=1.2,
            linestyle="--",
            label="forecast",
        )
    if threshold is not None:
        axes.axhline(threshold, color=_THRESHOLD, linewidth=1, linestyle=":", label="threshold")
        expected = crossing.get("expected") or {}
        if expected.get("timestamp"):
            axes.axvline(_date(expected["timestamp"]), color=_ANOMALY, linewidth=1, alpha=0.6)
    _finish(figure, axes, title)
    return _png(figure)


def _figure() -> tuple[Figure, Any]:
    figure = Figure(figsize=_SIZE_IN, dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    locator = mdates.AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axes.grid(True, linewidth=0.3, alpha=0.5)
    return figure, axes


def _finish(figure: Figure, axes: Any, title: str | None) -> None:
    if title:
        axes.set_title(title)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _dates(index: pd.Index) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(index).to_pydatetime())


def _date(value: str | datetime) -> datetime:
    stamp: datetime = pd.Timestamp(value).to_pydatetime()
    return stamp
