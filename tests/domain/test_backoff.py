from __future__ import annotations

import pytest

from domain.backoff import compute_backoff


@pytest.mark.parametrize(
    ("attempts", "factor_s", "max_backoff_s", "rand", "expected"),
    [
        (0, 2.0, 300.0, 0.0, 0.0),
        (1, 2.0, 300.0, 0.999999, 2.0),
        (1, 2.0, 300.0, 0.0, 1.0),
        (3, 2.0, 300.0, 0.5, 6.0),
        (20, 2.0, 300.0, 0.0, 150.0),
        (500, 2.0, 300.0, 0.999999, 300.0),
    ],
)
def test_backoff_doubles_with_jitter_and_caps(
    attempts: int, factor_s: float, max_backoff_s: float, rand: float, expected: float
) -> None:
    delay = compute_backoff(
        attempts, factor_s=factor_s, max_backoff_s=max_backoff_s, rand=lambda: rand
    )
    assert delay == pytest.approx(expected, abs=1e-3)


def test_without_jitter_the_delay_is_exact() -> None:
    assert compute_backoff(4, factor_s=1.0, jitter=False) == 8.0
