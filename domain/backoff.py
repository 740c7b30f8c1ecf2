"""Retry delays: exponential backoff with jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def compute_backoff(
    attempts: int,
    *,
    factor_s: float = 2.0,
    jitter: bool = True,
    max_backoff_s: float = 300.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the next try.

    Parameters
    ----------
    attempts:
        Tries made so far (1 after the first failure).
    factor_s:
        Delay after the first failure, in seconds; doubles with each further try.
    jitter:
        Spread the delay uniformly over [delay/2, delay] so many retries don't align.
    max_backoff_s:
        Upper bound of the delay, in seconds.
    rand:
        Source of uniform [0, 1) numbers (a parameter so tests are deterministic).

    Returns
    -------
    The delay in seconds, in [0, max_backoff_s].
    """
    if attempts < 1:
        return 0.0
    delay = min(max_backoff_s, factor_s * 2 ** min(attempts - 1, 62))
    if jitter:
        delay = delay / 2 + rand() * delay / 2
    return float(delay)
