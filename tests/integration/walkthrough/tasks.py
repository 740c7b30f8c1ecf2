"""The body of `aiops.word_count` (see `kinds.py`): load → domain → result, nothing else.
Status, retries, time limits and error mapping are `JobTask`'s."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tasks.base import JobContext, job_task
from tests.integration.walkthrough.kinds import WORD_COUNT, WordCountParams


@job_task(WORD_COUNT.name)
def word_count(ctx: JobContext, params: WordCountParams) -> dict[str, Any]:
    """Count the words of a text."""
    counts = Counter(params.text.lower().split())
    return {"words": sum(counts.values()), "top": counts.most_common(params.top)}
