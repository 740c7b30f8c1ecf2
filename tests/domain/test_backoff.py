from __future__ import annotations

import pytest

from domain.backoff import compute_backoff


@pytest.mark.parametrize(
    ("attempts", "factor_s", "jitter", "max_backoff_s", "rand", "expected_s"),
    [
        (1, 2.0, 0.0, 300.0, 0.5, 2.0),
        (2, 2.0, 0.0, 300.0, 0.5, 4.0),
        (3, 2.0, 0.0, 300.0, 0.5, 8.0),
        (6, 2.0, 0.0, 300.0, 0.0, 64.0),
        (10, 2.0, 0.0, 300.0, 0.0, 300.0),  # capped
        (500, 2.0, 0.0, 300.0, 0.0, 300.0),  # huge attempt counts stay finite
        (3, 2.0, 1.0, 300.0, 0.0, 8.0),  # full jitter, rand 0: the whole delay
        (3, 2.0, 1.0, 300.0, 0.75, 2.0),  # full jitter: 8 * (1 - 0.75)
        (3, 2.0, 0.5, 300.0, 0.5, 6.0),  # half jitter: 8 * (1 - 0.25)
        (10, 2.0, 0.5, 300.0, 0.5, 225.0),  # cap before jitter: 300 * 0.75
        (4, 0.0, 0.3, 300.0, 0.2, 0.0),
    ],
)
def test_backoff_is_capped_exponential_with_jitter(
    attempts: int,
    factor_s: float,
    jitter: float,
    max_backoff_s: float,
    rand: float,
    expected_s: float,
) -> None:
    delay = compute_backoff(
        attempts, factor_s=factor_s, jitter=jitter, max_backoff_s=max_backoff_s, rand=rand
    )
    assert delay == pytest.approx(expected_s)
    assert 0.0 <= delay <= max_backoff_s


@pytest.mark.parametrize(
    "kwargs",
    [
        {"attempts": 0},
        {"jitter": 1.5},
        {"rand": 1.0},
        {"rand": float("nan")},
        {"factor_s": -1.0},
    ],
)
def test_backoff_refuses_out_of_range_inputs(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {
        "attempts": 1,
        "factor_s": 1.0,
        "jitter": 0.1,
        "max_backoff_s": 60.0,
        "rand": 0.5,
    }
    args.update(kwargs)
    attempts = int(args.pop("attempts"))
    with pytest.raises(ValueError):
        compute_backoff(attempts, **args)
