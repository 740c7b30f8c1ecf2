"""The log template miner: streaming, persistent, template ids stable for ever.

`LogTemplateMiner` masks a message (`logparse_masks`), splits it into tokens and keys
(`logparse_tokens`) and hands it to the template tree (`logparse_tree`), behind two
caches (message shape, masked text); it keeps per-template figures and saves itself as a
JSON-able dict. See `logparse` for the design and docs/aiops-quality.md for the figures.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import not_
from typing import Any, Final

from domain.aiops.logparse_masks import (
    SHAPE_PATTERN,
    Masker,
    MaskError,
    normalize_masks,
)
from domain.aiops.logparse_tokens import tokenize
from domain.aiops.logparse_tree import TemplateTree
from domain.aiops.logparse_v1 import V1Templates
from domain.errors import DomainError

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_SIMILARITY_THRESHOLD",
    "DEFAULT_VARIABLE_VALUES",
    "STATE_KIND",
    "STATE_VERSION",
    "LogTemplateMiner",
    "MinerStateError",
    "TemplateInfo",
]

STATE_KIND: Final = "triops.logparse.miner"
STATE_VERSION: Final = 2

#: Defaults, chosen by leave-one-system-out validation (docs/aiops-quality.md).
DEFAULT_SIMILARITY_THRESHOLD: Final = 0.7
DEFAULT_DEPTH: Final = 4
DEFAULT_VARIABLE_VALUES: Final = 4
_V1_DEFAULTS: Final = (0.4, 4)

_SHAPE = re.compile(SHAPE_PATTERN)
_SHAPE_BLANK = "\x00"
_CONTROL = re.compile("[\x00-\x03]")  # internal markers (and NUL, which JSONB refuses)


class MinerStateError(DomainError):
    """A state dict that `LogTemplateMiner.from_state` cannot restore."""


@dataclass(frozen=True)
class TemplateInfo:
    """A template as the miner knows it, over every line it has seen.

    Attributes
    ----------
    template_id:
        Stable id, from 1, in order of creation (the canonical id when asked for an
        alias).
    template:
        The template text, with ``<*>`` and ``<NAME>`` placeholders.
    count:
        Lines assigned to it.
    first_line, last_line:
        Line numbers (from 1, counted over every line the miner has seen) of its first
        and last line.
    """

    template_id: int
    template: str
    count: int
    first_line: int
    last_line: int


class LogTemplateMiner:
    """Groups log messages into templates (see the module doc).

    Parameters
    ----------
    similarity_threshold:
        Minimum share of a cluster's non-variable positions at which a message has the
        same key, for the message to join it when no cluster covers it; 0 < value <= 1.
        (Positions already known to be variable count neither way.)
    depth:
        Depth of the prefix tree, as in Drain: the tree routes on the token count and
        then on the first ``depth - 2`` tokens (words route by their key, identifiers as
        a wildcard). At least 3.
    max_children:
        Maximum children of a tree node before new tokens share a wildcard child.
    masks:
        User masks, items ``{"name": ..., "regex": ...}``, applied before the defaults.
    use_default_masks:
        Apply `DEFAULT_MASKS`.
    cache_size:
        Maximum number of message shapes (and of masked texts) remembered; a cache is
        emptied when full. It only affects speed.
    variable_values:
        Different keys a position must show, within lines that agree elsewhere, before
        it is a variable; until then each key is a different message. At least 2 (2 is
        classic Drain: any difference is a variable).

    Raises
    ------
    ValueError
        For an out-of-range parameter.
    MaskError
        For an invalid user mask.
    """

    def __init__(
        self,
        *,
        similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
        depth: int = DEFAULT_DEPTH,
        max_children: int = 100,
        masks: Iterable[Mapping[str, str] | Sequence[str]] | None = None,
        use_default_masks: bool = True,
        cache_size: int = 200_000,
        variable_values: int = DEFAULT_VARIABLE_VALUES,
    ) -> None:
        if not 0.0 < similarity_threshold <= 1.0:
            raise ValueError(f"similarity_threshold must be in (0, 1], got {similarity_threshold}")
        if depth < 3:
            raise ValueError(f"depth must be at least 3, got {depth}")
        if max_children < 2:
            raise ValueError(f"max_children must be at least 2, got {max_children}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be positive, got {cache_size}")
        if variable_values < 2:
            raise ValueError(f"variable_values must be at least 2, got {variable_values}")
        self.similarity_threshold = float(similarity_threshold)
        self.depth = int(depth)
        self.max_children = int(max_children)
        self.user_masks = normalize_masks(masks)
        self.use_default_masks = bool(use_default_masks)
        self.cache_size = int(cache_size)
        self.variable_values = int(variable_values)
        self._masker = Masker(self.user_masks, use_default_masks=self.use_default_masks)
        self._v1: V1Templates | None = None
        self._tree = self._new_tree(first_id=1)
        self._cache: dict[str, int] = {}
        self._masked_cache: dict[str, int] = {}
        self._lines = 0

    def _new_tree(self, first_id: int) -> TemplateTree:
        return TemplateTree(
            similarity_threshold=self.similarity_threshold,
            depth=self.depth,
            max_children=self.max_children,
            variable_values=self.variable_values,
            first_id=first_id,
        )

    # ------------------------------------------------------------------ reading
    @property
    def lines_seen(self) -> int:
        """Number of messages added so far, over the miner's whole life (restores included)."""
        return self._lines

    @property
    def template_count(self) -> int:
        """Number of templates (an id merged into another no longer counts)."""
        old = len(self._v1.templates) if self._v1 is not None else 0
        return old + len(self._tree.live())

    @property
    def last_template_id(self) -> int:
        """The highest template id given out so far (0 before any)."""
        return self._tree.first_id + len(self._tree.events) - 1

    def canonical_id(self, template_id: int) -> int:
        """The id that now holds the lines of ``template_id`` (itself unless merged).

        Parameters
        ----------
        template_id:
            An id returned by `add` or `add_many`, possibly before a merge.

        Returns
        -------
        int
            The live template id.

        Raises
        ------
        KeyError
            For an unknown id.
        """
        if not 1 <= template_id <= self.last_template_id:
            raise KeyError(f"unknown template id {template_id}")
        if template_id < self._tree.first_id:
            return template_id
        return self._tree.resolve(template_id)

    def template_text(self, template_id: int) -> str:
        """The current text of a template.

        Parameters
        ----------
        template_id:
            An id returned by `add` or `add_many` (an alias reads its canonical template).

        Returns
        -------
        str
            The template, e.g. ``"Invalid user <*> from <IP>"``.

        Raises
        ------
        KeyError
            For an unknown id.
        """
        return self.template_info(template_id).template

    def template_info(self, template_id: int) -> TemplateInfo:
        """Id, text, count and first/last line of one template.

        Parameters
        ----------
        template_id:
            An id returned by `add` or `add_many` (an alias reads its canonical template).

        Returns
        -------
        TemplateInfo
            The template's figures over every line seen.

        Raises
        ------
        KeyError
            For an unknown id.
        """
        template_id = self.canonical_id(template_id)
        if template_id < self._tree.first_id:
            assert self._v1 is not None
            old = self._v1.templates[template_id - 1]
            return TemplateInfo(old.id, old.render(), old.count, old.first_line, old.last_line)
        event = self._tree.event(template_id)
        return TemplateInfo(
            event.id, self._tree.render(event), event.count, event.first_line, event.last_line
        )

    def templates(self) -> list[TemplateInfo]:
        """All live templates, by id.

        Returns
        -------
        list[TemplateInfo]
            One entry per template, in id order (aliases left out).
        """
        old = [] if self._v1 is None else [t.id for t in self._v1.templates]
        return [self.template_info(i) for i in old + [e.id for e in self._tree.live()]]

    # ------------------------------------------------------------------ adding
    def add(self, message: str) -> tuple[int, str]:
        """Add one message and return its template.

        Parameters
        ----------
        message:
            The message part of a log line (its ``Content``).

        Returns
        -------
        tuple[int, str]
            The template id and the template text after this message.
        """
        template_id = self.add_many([message])[0]
        return template_id, self.template_text(template_id)

    def add_many(self, messages: Iterable[str]) -> list[int]:
        """Add messages in order and return the template id of each.

        Parameters
        ----------
        messages:
            Message parts of log lines, in log order.

        Returns
        -------
        list[int]
            One canonical template id per message, as of the end of the batch (a merge
            caused by a later message of the batch is already applied). Template texts
            may still change as later messages generalise them; read them after the
            batch with `template_text`.
        """
        batch = messages if isinstance(messages, list) else list(messages)
        if not batch:
            return []
        first = self._lines + 1
        keys = list(map(_SHAPE.sub, repeat(_SHAPE_BLANK), batch))
        cache = self._cache
        ids: list[int | None] = list(map(cache.get, keys))
        for index in compress(range(len(batch)), map(not_, ids)):
            key = keys[index]
            template_id = cache.get(key)
            if template_id is None:
                template_id = self._add_new_shape(batch[index], first + index)
                if len(cache) >= self.cache_size:
                    cache.clear()
                cache[key] = template_id
            ids[index] = template_id
        result: list[int] = ids  # type: ignore[assignment]
        tree = self._tree
        if tree.merges:
            canonical = {i: tree.resolve(i) if i >= tree.first_id else i for i in set(result)}
            result = [canonical[i] for i in result]
        last = dict(zip(result, range(first, first + len(result)), strict=True))
        for template_id, count in Counter(result).items():
            if template_id < tree.first_id:
                assert self._v1 is not None
                stats: Any = self._v1.templates[template_id - 1]
            else:
                stats = tree.event(template_id)
            stats.count += count
            stats.last_line = max(stats.last_line, last[template_id])
        self._lines += len(batch)
        return result

    def _add_new_shape(self, message: str, line: int) -> int:
        if _CONTROL.search(message) is not None:
            message = _CONTROL.sub("\ufffd", message)
        if self._v1 is not None:
            old = self._v1.route(message)
            if old is not None:
                return old.id
        masked = self._masker.mask(message)
        # Messages that differ only inside masked spans have the same masked text, hence
        # the same tokens: the event of the first one, without another tree search.
        template_id = self._masked_cache.get(masked)
        if template_id is not None:
            return template_id
        tokens, keys = tokenize(masked)
        template_id = self._tree.add(tokens, keys, line)
        if len(self._masked_cache) >= self.cache_size:
            self._masked_cache.clear()
        self._masked_cache[masked] = template_id
        return template_id

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """The miner as a plain JSON-able dict (no pickling), for `from_state`.

        Returns
        -------
        dict[str, Any]
            ``kind``, ``version`` (2), ``config`` (parameters and user masks),
            ``lines_seen``, ``tree`` (clusters, events, skeleton index and prefix tree,
            see `logparse_tree.TemplateTree.to_state`) and ``v1`` (the templates and
            tree of a version-1 state it was restored from, else None).
        """
        v1 = None
        if self._v1 is not None:
            v1 = {
                "similarity_threshold": self._v1.similarity_threshold,
                "depth": self._v1.prefix_depth + 2,
                "templates": [
                    {
                        "id": t.id,
                        "key": list(t.key),
                        "tokens": list(t.tokens),
                        "count": t.count,
                        "first_line": t.first_line,
                        "last_line": t.last_line,
                    }
                    for t in self._v1.templates
                ],
                "tree": self._v1.tree_state(),
            }
        return {
            "kind": STATE_KIND,
            "version": STATE_VERSION,
            "config": {
                "similarity_threshold": self.similarity_threshold,
                "depth": self.depth,
                "max_children": self.max_children,
                "masks": [{"name": name, "regex": regex} for name, regex in self.user_masks],
                "use_default_masks": self.use_default_masks,
                "cache_size": self.cache_size,
                "variable_values": self.variable_values,
            },
            "lines_seen": self._lines,
            "tree": self._tree.to_state(),
            "v1": v1,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> LogTemplateMiner:
        """Rebuild a miner saved with `to_state` (also after a JSON round trip).

        A version-1 state (written before version 2 of the miner) is upgraded: its
        templates keep their ids and version-1 routing, and new messages go to a
        version-2 tree whose parameters are the version-2 defaults unless the state
        had non-default ones.

        Parameters
        ----------
        state:
            The dict returned by `to_state`.

        Returns
        -------
        LogTemplateMiner
            A miner with the same parameters, templates, ids and tree.

        Raises
        ------
        MinerStateError
            When the dict is not a miner state of a version this code reads.
        MaskError
            When a saved user mask is invalid.
        """
        if not isinstance(state, Mapping) or state.get("kind") != STATE_KIND:
            raise MinerStateError("not a log template miner state")
        version = state.get("version")
        if version not in (1, STATE_VERSION):
            raise MinerStateError(f"miner state version {version!r} is not 1 or {STATE_VERSION}")
        try:
            config = state["config"]
            options: dict[str, Any] = {
                "similarity_threshold": config["similarity_threshold"],
                "depth": config["depth"],
                "max_children": config["max_children"],
                "masks": config["masks"],
                "use_default_masks": config["use_default_masks"],
                "cache_size": config["cache_size"],
            }
            if version == 1:
                if (options["similarity_threshold"], options["depth"]) == _V1_DEFAULTS:
                    del options["similarity_threshold"], options["depth"]
            else:
                options["variable_values"] = config["variable_values"]
            miner = cls(**options)
            v1_state = state if version == 1 else state["v1"]
            if v1_state is not None:
                v1_config = {"use_default_masks": miner.use_default_masks, **v1_state}
                if version != 1:
                    v1_config["config"] = {
                        "similarity_threshold": v1_state["similarity_threshold"],
                        "depth": v1_state["depth"],
                        "use_default_masks": miner.use_default_masks,
                    }
                miner._v1 = V1Templates(v1_config, miner.user_masks)
                miner._tree = miner._new_tree(first_id=len(miner._v1.templates) + 1)
            if version != 1:
                miner._tree.load_state(state["tree"])
            miner._lines = int(state["lines_seen"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, MinerStateError | MaskError):
                raise
            raise MinerStateError(f"invalid miner state: {exc!r}") from exc
        return miner
