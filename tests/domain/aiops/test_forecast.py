"""Capacity forecast: threshold crossing times, interval coverage, errors, charts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from domain.aiops.charts import PNG_SIGNATURE, forecast_chart_png
from domain.aiops.forecast import MIN_FORECAST_POINTS, forecast_capacity
from domain.aiops.metrics import SeriesError

START = pd.Timestamp("2024-05-01")


def disk_usage(days: float = 14, *, per_day: float = 1.0, noise: float = 0.3) -> pd.DataFrame:
    """Disk use in percent, hourly: 50 % growing ``per_day`` points a day, Gaussian noise."""
    timestamps = pd.date_range(START, periods=int(days * 24), freq="h")
    day = np.asarray((timestamps - START) / pd.Timedelta(days=1), dtype=float)
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {"timestamp": timestamps, "value": 50 + per_day * day + rng.normal(0, noise, len(day))}
    )


def test_a_linear_growth_crosses_its_threshold_at_the_expected_time() -> None:
    history = disk_usage()  # 50 % + 1 %/day: 80 % on day 30
    result = forecast_capacity(history, horizon=timedelta(days=30), threshold=80)
    assert result.crossing is not None
    expected = result.crossing["expected"]
    assert expected["timestamp"] is not None and expected["seconds"] is not None
    due = START + pd.Timedelta(days=30)
    assert abs(pd.Timestamp(expected["timestamp"]) - due) <= pd.Timedelta(days=1)
    last = pd.Timestamp(result.last_timestamp)
    assert expected["seconds"] == pytest.approx(
        (pd.Timestamp(expected["timestamp"]) - last).total_seconds(), abs=1
    )
    assert not result.crossing["already_crossed"]


def test_the_upper_band_crosses_first_then_the_mean_then_the_lower_band() -> None:
    result = forecast_capacity(disk_usage(noise=1.0), horizon=timedelta(days=40), threshold=80)
    assert result.crossing is not None
    seconds = [result.crossing[k]["seconds"] for k in ("earliest", "expected", "latest")]
    assert all(s is not None for s in seconds)
    earliest, expected, latest = (float(s) for s in seconds if s is not None)
    assert earliest < expected < latest
    assert all(p["lower"] <= p["mean"] <= p["upper"] for p in result.points)


def test_free_space_falling_below_a_floor_uses_the_lower_band_first() -> None:
    history = disk_usage(per_day=-1.0)  # 50 % free, losing 1 %/day: 20 % on day 30
    result = forecast_capacity(history, horizon=timedelta(days=30), threshold=20, direction="below")
    assert result.crossing is not None
    earliest, expected = result.crossing["earliest"], result.crossing["expected"]
    assert earliest["seconds"] is not None and expected["seconds"] is not None
    assert earliest["seconds"] < expected["seconds"]
    due = START + pd.Timedelta(days=30)
    assert abs(pd.Timestamp(expected["timestamp"]) - due) <= pd.Timedelta(days=1)


def test_no_crossing_within_the_horizon_gives_none() -> None:
    result = forecast_capacity(disk_usage(), horizon=timedelta(days=3), threshold=95)
    assert result.crossing is not None
    assert result.crossing["expected"] == {"timestamp": None, "seconds": None}
    assert result.crossing["latest"] == {"timestamp": None, "seconds": None}


def test_a_threshold_already_exceeded_is_reported_at_zero_seconds() -> None:
    result = forecast_capacity(disk_usage(), horizon=24, threshold=55)
    assert result.crossing is not None
    assert result.crossing["already_crossed"]
    assert result.crossing["expected"]["seconds"] == 0
    assert result.crossing["expected"]["timestamp"] == result.last_timestamp


def test_durations_count_from_the_given_now() -> None:
    history = disk_usage()
    last = history["timestamp"].iloc[-1]
    at_last = forecast_capacity(history, horizon=timedelta(days=30), threshold=80)
    later = forecast_capacity(
        history,
        horizon=timedelta(days=30),
        threshold=80,
        now=datetime.fromisoformat(str(last + pd.Timedelta(days=2))),
    )
    assert at_last.crossing is not None and later.crossing is not None
    first, second = at_last.crossing["expected"]["seconds"], later.crossing["expected"]["seconds"]
    assert first is not None and second is not None
    assert first - second == pytest.approx(2 * 86_400, abs=1)


def test_the_interval_contains_a_known_noise_series_most_of_the_time() -> None:
    # Trend + daily cycle + N(0, 1) noise, hourly for 4 weeks; forecast the last week.
    timestamps = pd.date_range(START, periods=24 * 28, freq="h")
    day = np.asarray((timestamps - START) / pd.Timedelta(days=1), dtype=float)
    coverage, widths = [], []
    for seed in range(3):
        noise = np.random.default_rng(seed).normal(0, 1, len(day))
        value = 40 + 0.3 * day + 5 * np.sin(2 * np.pi * day) + noise
        frame = pd.DataFrame({"timestamp": timestamps, "value": value})
        history, future = frame.iloc[: 24 * 21], frame.iloc[24 * 21 :]
        result = forecast_capacity(history, horizon=len(future), confidence=0.95)
        assert [p["timestamp"] for p in result.points] == [
            t.isoformat() for t in future["timestamp"]
        ]
        lower = np.array([p["lower"] for p in result.points])
        upper = np.array([p["upper"] for p in result.points])
        actual = future["value"].to_numpy()
        coverage.append(np.mean((actual >= lower) & (actual <= upper)))
        widths.append(np.mean(upper - lower))
    assert np.mean(coverage) >= 0.85, coverage
    assert np.mean(widths) < 8, widths  # about 2 x 1.96 sigma, not a uselessly wide band


def test_the_horizon_counts_sampling_steps_or_a_duration() -> None:
    history = disk_usage(days=5)
    by_steps = forecast_capacity(history, horizon=12)
    by_duration = forecast_capacity(history, horizon=timedelta(hours=12))
    assert len(by_steps.points) == len(by_duration.points) == 12
    assert by_steps.points == by_duration.points
    assert (
        by_steps.points[0]["timestamp"]
        == (history["timestamp"].iloc[-1] + pd.Timedelta(hours=1)).isoformat()
    )
    assert by_steps.step_s == by_steps.sampling_s == 3600.0


def test_a_long_fine_grained_history_is_modelled_on_a_coarser_grid() -> None:
    def usage(day: np.ndarray) -> np.ndarray:
        return 30 + 2 * day + 4 * np.sin(2 * np.pi * day)

    timestamps = pd.date_range(START, periods=288 * 10, freq="5min")
    day = np.asarray((timestamps - START) / pd.Timedelta(days=1), dtype=float)
    value = usage(day) + np.random.default_rng(3).normal(0, 0.5, len(day))
    result = forecast_capacity(
        pd.DataFrame({"timestamp": timestamps, "value": value}),
        horizon=timedelta(days=2),
        threshold=55,
    )
    assert result.sampling_s == 300.0
    assert result.step_s == 3600.0
    assert result.seasonal_periods_s == (86_400.0,)
    assert len(result.points) == 48
    assert result.crossing is not None
    crossing = result.crossing["expected"]["timestamp"]
    assert crossing is not None
    future = np.arange(10, 12, 1 / 1440)
    due = START + pd.Timedelta(days=float(future[np.argmax(usage(future) >= 55)]))
    assert abs(pd.Timestamp(crossing) - due) <= pd.Timedelta(hours=6)


def test_a_constant_history_forecasts_a_flat_line() -> None:
    history = disk_usage(days=2, per_day=0, noise=0)
    result = forecast_capacity(history, horizon=6, threshold=60)
    assert {(p["mean"], p["lower"], p["upper"]) for p in result.points} == {(50.0, 50.0, 50.0)}
    assert result.crossing is not None
    assert result.crossing["earliest"]["seconds"] is None


def test_a_noise_free_line_is_extrapolated_exactly() -> None:
    history = disk_usage(days=3, noise=0)
    result = forecast_capacity(history, horizon=timedelta(days=1))
    last_hour = 3 * 24 - 1 + 24  # hours after the start: last observation + 1 day
    assert result.points[-1]["mean"] == pytest.approx(50 + last_hour / 24, abs=0.01)


def test_too_few_points_raise_a_series_error_saying_how_many_are_needed() -> None:
    with pytest.raises(SeriesError, match=f"at least {MIN_FORECAST_POINTS} points"):
        forecast_capacity(disk_usage().head(MIN_FORECAST_POINTS - 1), horizon=5)


def test_bad_parameters_are_rejected_in_plain_words() -> None:
    history = disk_usage(days=2)
    with pytest.raises(ValueError, match="horizon must be positive"):
        forecast_capacity(history, horizon=0)
    with pytest.raises(ValueError, match="confidence"):
        forecast_capacity(history, horizon=5, confidence=95)
    with pytest.raises(ValueError, match="time zone"):
        forecast_capacity(
            history, horizon=5, threshold=90, now=datetime.fromisoformat("2024-05-03T00:00+00:00")
        )


def test_the_result_is_plain_json() -> None:
    result = forecast_capacity(disk_usage(days=3), horizon=6, threshold=90)
    payload = json.loads(json.dumps(result.to_dict()))
    assert set(payload["points"][0]) == {"timestamp", "mean", "lower", "upper"}
    assert payload["crossing"]["threshold"] == 90
    assert payload["confidence"] == 0.95


def test_the_forecast_chart_is_a_png() -> None:
    history = disk_usage()
    result = forecast_capacity(history, horizon=timedelta(days=20), threshold=80)
    png = forecast_chart_png(history, result, 80, title="disk /var")
    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 5_000
    assert forecast_chart_png(history, result.to_dict(), None).startswith(PNG_SIGNATURE)
