"""Templates of a miner saved with STATE_VERSION 1, kept routing exactly as they did.

Version 1 of the miner (a Drain-style tree on keys where any sub-token with a digit was
a wildcard, tokens split after ``=`` and before a call ``(``, one similarity threshold)
was replaced in version 2 (see `logparse` and `logparse_tree`). A stream saved by
version 1 still loads: its templates keep their ids, and `V1Templates.route` sends a
message to one of them with version 1's masks, tokens, tree and similarity rule, updating
that template as version 1 did; a message none of them takes goes to the version 2 tree.
Nothing new is ever created here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from domain.aiops.logparse_masks import (
    PLACEHOLDER_CLOSE,
    PLACEHOLDER_OPEN,
    Masker,
    render_placeholders,
)

__all__ = ["V1Templates"]

_WILD: Final = PLACEHOLDER_OPEN + "*" + PLACEHOLDER_CLOSE
_GLUE: Final = "\x01"
_GLUED_WILD: Final = _GLUE + _WILD
_SPLIT_MARK = " " + _GLUE
_AFTER_EQUALS = re.compile(r"=(?=\S)")
_CALL_PAREN = re.compile(r"\((?<=\w\()")
_PIECE_CHAR = "[^\\s:,;()\\[\\]{}\"'=|\x01]"
_VARIABLE_SUB_TOKEN = re.compile(f"(?<!{_PIECE_CHAR}){_PIECE_CHAR}*?[0-9\x02]{_PIECE_CHAR}*")
_PURE_VARIABLE = re.compile(r"(?<!\S)[^\w\s]*\x02\*\x03[^\w\s]*(?!\S)")


def _sub_token_key(token: str) -> str:
    return _VARIABLE_SUB_TOKEN.sub(_WILD, token)


def _tokenize(masked: str) -> tuple[list[str], list[str]]:
    split = masked
    if "=" in split:
        split = _AFTER_EQUALS.sub("=" + _SPLIT_MARK, split)
    if "(" in split:
        split = _CALL_PAREN.sub(_SPLIT_MARK + "(", split)
    tokens = split.split()
    key = _PURE_VARIABLE.sub(_WILD, _VARIABLE_SUB_TOKEN.sub(_WILD, split)).split()
    if len(key) != len(tokens):  # pragma: no cover - the substitutions keep whitespace
        key = [_PURE_VARIABLE.sub(_WILD, _sub_token_key(token)) for token in tokens]
    return tokens, key


class V1Template:
    """One version-1 template: its keys and tokens, and its figures."""

    __slots__ = ("count", "first_line", "id", "key", "last_line", "text", "tokens")

    def __init__(self, template_id: int, key: list[str], tokens: list[str], line: int) -> None:
        self.id = template_id
        self.key = key
        self.tokens = tokens
        self.count = 0
        self.first_line = line
        self.last_line = line
        self.text = ""

    def render(self) -> str:
        """Display text, as version 1 rendered it."""
        if not self.text:
            joined = " ".join(self.tokens).replace(_SPLIT_MARK, "")
            self.text = render_placeholders(joined.replace(_GLUE, ""))
        return self.text


class _Node:
    __slots__ = ("children", "templates")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.templates: list[V1Template] = []


class V1Templates:
    """The templates and tree of a version-1 state (see the module doc).

    Parameters
    ----------
    state:
        The version-1 state dict (``config``, ``templates``, ``tree``).
    user_masks:
        The miner's validated user masks.

    Raises
    ------
    KeyError, TypeError, ValueError
        For a malformed state.
    """

    def __init__(self, state: Mapping[str, Any], user_masks: tuple[tuple[str, str], ...]) -> None:
        config = state["config"]
        self.similarity_threshold = float(config["similarity_threshold"])
        self.prefix_depth = int(config["depth"]) - 2
        self._masker = Masker(
            user_masks, use_default_masks=bool(config["use_default_masks"]), version=1
        )
        self.templates: list[V1Template] = []
        for position, item in enumerate(state["templates"], start=1):
            if item["id"] != position:
                raise ValueError(f"template ids must run from 1, got {item['id']}")
            key = [str(token) for token in item["key"]]
            tokens = [str(token) for token in item["tokens"]]
            if len(key) != len(tokens):
                raise ValueError(f"template {position} has mismatched tokens")
            template = V1Template(position, key, tokens, int(item["first_line"]))
            template.count = int(item["count"])
            template.last_line = int(item["last_line"])
            self.templates.append(template)

        def build(node_state: Mapping[str, Any]) -> _Node:
            node = _Node()
            node.templates = [self.templates[int(i) - 1] for i in node_state.get("templates", ())]
            for token, child in node_state.get("children", {}).items():
                node.children[str(token)] = build(child)
            return node

        self._root = {int(length): build(node) for length, node in state["tree"].items()}

    def route(self, message: str) -> V1Template | None:
        """The version-1 template that takes ``message`` (updated as v1 did), or None."""
        tokens, key = _tokenize(self._masker.mask(message))
        template = self._match(key)
        if template is not None:
            _merge(template, key, tokens)
        return template

    def _match(self, key: list[str]) -> V1Template | None:
        node = self._root.get(len(key))
        if node is None:
            return None
        for token in key[: self.prefix_depth]:
            child = node.children.get(token)
            if child is None:
                child = node.children.get(_WILD)
                if child is None:
                    return None
            node = child
        covering: V1Template | None = None
        covering_same = -1
        best: V1Template | None = None
        best_same = -1
        best_wildcards = -1
        size = len(key)
        for template in node.templates:
            same = 0
            wildcards = 0
            for template_token, token in zip(template.key, key, strict=True):
                if template_token == _WILD:
                    wildcards += 1
                elif template_token == token:
                    same += 1
            if same + wildcards == size and same > covering_same:
                covering, covering_same = template, same
            if same > best_same or (same == best_same and wildcards > best_wildcards):
                best, best_same, best_wildcards = template, same, wildcards
        if covering is not None:
            return covering
        if best is not None and best_same / size >= self.similarity_threshold:
            return best
        return None

    def tree_state(self) -> dict[str, Any]:
        """The tree as version 1 saved it (leaves list template ids)."""

        def node_state(node: _Node) -> dict[str, Any]:
            state: dict[str, Any] = {}
            if node.templates:
                state["templates"] = [template.id for template in node.templates]
            if node.children:
                state["children"] = {
                    token: node_state(child) for token, child in node.children.items()
                }
            return state

        return {str(length): node_state(node) for length, node in self._root.items()}


def _merge(template: V1Template, key: list[str], tokens: list[str]) -> None:
    template_key = template.key
    template_tokens = template.tokens
    changed = False
    for index, token_key in enumerate(key):
        current = template_tokens[index]
        if template_key[index] != token_key:
            if template_key[index] != _WILD:
                template_key[index] = _WILD
                template_tokens[index] = _GLUED_WILD if current.startswith(_GLUE) else _WILD
                changed = True
        elif current != tokens[index] and current not in (_WILD, _GLUED_WILD):
            general = _sub_token_key(current)
            if general != _sub_token_key(tokens[index]):
                general = _GLUED_WILD if current.startswith(_GLUE) else _WILD
            template_tokens[index] = general
            changed = True
    if changed:
        template.text = ""
