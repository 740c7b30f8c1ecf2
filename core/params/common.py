"""Pieces shared by the params models of every family."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from core.validation import human_pattern

FileId = Annotated[
    str,
    StringConstraints(
        pattern=human_pattern(
            r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
            "{input} is not a file id: upload the file with POST /api/v1/files and pass the "
            "id it returns",
        )
    ),
]

NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"

MODEL_NAME = human_pattern(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    "{input} is not a model name: " + NAME_RULE + ", up to 100",
)
ALIAS_NAME = human_pattern(
    r"^[A-Za-z][A-Za-z0-9_-]{0,99}$",
    "{input} is not an alias name: letters, digits, '_' and '-', starting with a letter, up to 100",
)
DATASET_VERSION = human_pattern(
    r"^[a-z][a-z0-9_.-]{0,99}@[0-9]{1,9}$",
    "{input} is not a dataset version: write NAME@VERSION, e.g. sales@3 (lowercase name)",
)


class Params(BaseModel):
    """Base of every job kind's params: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")
