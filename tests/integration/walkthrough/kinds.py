"""How to add a job kind, kept true by a test: this module is what a family's module under
`core/kinds/` holds for a kind — its params model and its declaration — and `tasks.py`
beside it is what `tasks/<family>.py` holds: its body.

Here the two live in a plugin (named in `TRIOPS_PLUGINS`, imported by every process at
start); a kind of triops' own is declared in `core/kinds/<family>.py` and listed in that
module's `KINDS`, and its body is a task of the same name in `tasks/<family>.py`.
"""

from __future__ import annotations

from pydantic import Field

from core.kinds import JobKind, register
from core.kinds.common import Params


class WordCountParams(Params):
    """What the kind takes; unknown fields are refused (a typo gets a suggestion)."""

    text: str = Field(min_length=1, max_length=100_000, description="The text to count.")
    top: int = Field(default=3, ge=1, le=100, description="How many words to report.")


WORD_COUNT = register(
    JobKind(
        "aiops.word_count",
        "aiops",
        WordCountParams,
        "Counts the words of a text and reports the most frequent.",
        time_limit_s=60,
        example={"text": "to be or not to be", "top": 2},
        task_module="tests.integration.walkthrough.tasks",
    )
)
