"""Shared fixtures. Service fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data import benchmarks_dir as _benchmarks_dir


@pytest.fixture(scope="session")
def benchmarks_dir() -> Path:
    """The shared labelled data (Loghub, NAB); the suite needs it, as CI has it."""
    path = _benchmarks_dir()
    if not (path / "loghub").is_dir():
        pytest.fail(f"shared benchmark data not found at {path} (set TRIOPS_BENCHMARKS_DIR)")
    return path
