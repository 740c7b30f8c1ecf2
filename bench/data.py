"""Where the shared, labelled benchmark data lives (Loghub logs, NAB metrics)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def benchmarks_dir() -> Path:
    """The shared benchmark folder: `$TRIOPS_BENCHMARKS_DIR`, else `../shared/benchmarks`."""
    configured = os.environ.get("TRIOPS_BENCHMARKS_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "benchmarks"
