"""Retry delays: capped exponential backoff with jitter (job retries, webhook deliveries)."""

from __future__ import annotations

_MAX_EXPONENT = 62  # 2**62 seconds is beyond any cap; keeps the float finite


def compute_backoff(
    attempts: int,
    *,
    factor_s: float,
    jitter: float,
    max_backoff_s: float,
    rand: float,
) -> float:
    """Seconds to wait before the next attempt (capped exponential + jitter).

    ``delay = min(max_backoff_s, factor_s * 2 ** (attempts - 1))``, then jitter scales it into
    ``[delay * (1 - jitter), delay]`` using ``rand``: ``delay * (1 - jitter * rand)``.
    ``jitter=0`` is deterministic, ``jitter=1`` is "full jitter". The result never exceeds
    ``max_backoff_s``.

    Parameters
    ----------
    attempts:
        Failed attempts so far (>= 1); the first retry follows attempt 1.
    factor_s:
        Base delay in seconds (the delay after the first failure, before jitter).
    jitter:
        Fraction of the delay that is randomised, in [0, 1].
    max_backoff_s:
        Upper bound in seconds, applied before jitter.
    rand:
        A uniform random number in [0, 1) supplied by the caller (keeps this function pure).

    Returns
    -------
    float
        The delay in seconds.

    Raises
    ------
    ValueError
        On ``attempts < 1``, negative times, or ``jitter``/``rand`` out of range.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    if factor_s < 0 or max_backoff_s < 0:
        raise ValueError("factor_s and max_backoff_s must be >= 0")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be in [0, 1]")
    if not 0.0 <= rand < 1.0:
        raise ValueError("rand must be in [0, 1)")
    exponent = min(attempts - 1, _MAX_EXPONENT)
    delay_s = min(max_backoff_s, factor_s * float(2**exponent))
    return delay_s * (1.0 - jitter * rand)
