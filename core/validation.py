"""Pydantic's validation errors, told the way a person reads them.

Every place where a pydantic error reaches a user (job params, request bodies, query
strings, schedules) goes through `problems`, so the messages are the same everywhere:

- a value that does not match a field's pattern says what the field expects, in words
  registered with `human_pattern` beside the pattern — a regex is never shown;
- an unknown field names the known ones and suggests the nearest (`estimater` → did you
  mean `estimator`?);
- pydantic's "Value error, " prefix is dropped from our own validators' messages.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

_DESCRIPTIONS: dict[str, str] = {}

GENERIC_FORM = "does not have the expected form"

MAX_VERSION = 2**31 - 1
"""The largest version number a database integer column holds (anything above is 422)."""


def human_pattern(pattern: str, description: str) -> str:
    """Register what a pattern means, in words, and return the pattern.

    `description` may hold `{input}`, replaced by the offending value (quoted, cut at 100
    characters): ``human_pattern(r"^[a-z]+$", "{input} is not a lowercase name")``.
    """
    _DESCRIPTIONS[pattern] = description
    return pattern


def describe_pattern(pattern: str, value: object) -> str:
    """What a value failing `pattern` should have been, without showing the pattern."""
    description = _DESCRIPTIONS.get(pattern)
    shown = repr(value)[:100]
    if description is None:
        return f"{shown} {GENERIC_FORM}"
    return description.replace("{input}", shown)


def problems(
    errors: Iterable[Mapping[str, Any]],
    *,
    model: type[BaseModel] | None = None,
    prefix: Sequence[str | int] = (),
) -> list[dict[str, Any]]:
    """Each error as `{loc, msg, type}`, with a message a person can act on.

    Parameters
    ----------
    errors:
        Pydantic error dicts (`ValidationError.errors()`, or FastAPI's request errors).
    model:
        The model validated, when known: unknown fields then get a suggestion.
    prefix:
        Prepended to every `loc` (`["params"]` for a job's params).
    """
    out = []
    for error in errors:
        loc = [*prefix, *error.get("loc", ())]
        out.append({"loc": loc, "msg": message(error, model), "type": str(error.get("type", ""))})
    return out


def message(error: Mapping[str, Any], model: type[BaseModel] | None = None) -> str:
    """One error's message, in words."""
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    raw = str(error.get("msg", ""))
    if kind == "string_pattern_mismatch":
        return describe_pattern(str(context.get("pattern", "")), error.get("input"))
    if kind == "value_error":
        return raw.removeprefix("Value error, ")
    if kind == "assertion_error":
        return raw.removeprefix("Assertion failed, ")
    if kind == "extra_forbidden":
        loc = list(error.get("loc", ()))
        name = str(loc[-1]) if loc else "?"
        known = _fields_at(model, loc[:-1]) if model is not None else None
        text = f"unknown field {name!r}"
        if known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if close:
                text += f"; did you mean {close[0]!r}?"
            text += f" (known: {', '.join(sorted(known))})"
        return text
    return raw


def _fields_at(model: type[BaseModel] | None, loc: Sequence[Any]) -> list[str] | None:
    """The field names of the model found by walking `loc` down from `model`."""
    current: Any = model
    for step in loc:
        if isinstance(step, int):
            continue
        fields = _model_of(current)
        if fields is None or step not in fields.model_fields:
            return None
        current = fields.model_fields[step].annotation
    found = _model_of(current)
    return list(found.model_fields) if found is not None else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The one pydantic model an annotation holds (through Optional, list, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list, tuple, set, Annotated):
        models = [m for a in get_args(annotation) if (m := _model_of(a)) is not None]
        return models[0] if len(models) == 1 else None
    return None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """A JSON-like value with the characters a database cannot store in text — NUL and
    lone UTF-16 surrogates — replaced by U+FFFD in every string (keys included).

    The API refuses them in what users send; a job's result can still meet them in the
    data it read (a log line holding a NUL byte), and must not fail at the last write."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def json_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (what the jobs table stores)."""
    return len(json.dumps(value, separators=(",", ":"), default=str).encode("utf-8", "replace"))
