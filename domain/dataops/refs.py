"""`NAME@VERSION`: a reference to a DataOps dataset version, parsed once.

A `DatasetRef` is a `str` (so it is stored, compared and serialised as the text users
write) that also carries its parts, `.name` and `.version`. Every place that takes a
dataset version — an ETL source, a join, a referential check, a profile, a training
set (`dataset:NAME@VERSION`) — uses this one type, so the rule and its message live
here only.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from domain.errors import DomainError

PATTERN = r"^[a-z][a-z0-9_.-]{0,99}@[0-9]{1,9}$"
"""A lowercase name (letters, digits, '.', '_', '-'; at most 100) and a version number."""

_REF = re.compile(PATTERN)


class DatasetRefError(DomainError):
    """Text that is not `NAME@VERSION`."""


class DatasetRef(str):
    """A dataset version reference: the text `NAME@VERSION` with `.name` and `.version`."""

    name: str
    version: int

    def __new__(cls, text: str) -> DatasetRef:
        if not isinstance(text, str) or not _REF.fullmatch(text):
            raise DatasetRefError(
                f"{str(text)[:100]!r} is not a dataset version: write NAME@VERSION, e.g. "
                "sales@3 (a lowercase name, then the version number)"
            )
        ref = super().__new__(cls, text)
        name, version = text.split("@", 1)
        ref.name, ref.version = name, int(version)
        return ref

    @classmethod
    def of(cls, name: str, version: int) -> DatasetRef:
        return cls(f"{name}@{version}")


def _parse(value: Any) -> DatasetRef:
    return value if isinstance(value, DatasetRef) else DatasetRef(value)


DatasetRefField = Annotated[
    DatasetRef,
    PlainValidator(_parse),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": PATTERN, "description": "NAME@VERSION, e.g. sales@3"}
    ),
]
"""A pydantic field holding a `DatasetRef` (validated from and serialised to its text)."""
