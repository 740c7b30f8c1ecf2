"""The miner's template tree: clusters of messages, the events (templates) inside them,
and the evidence that decides which positions are variables. Pure logic, no I/O.

A message arrives as tokens and keys (`logparse_tokens.tokenize`). It is routed, as in
Drain, by its token count and the route keys of its first ``depth - 2`` tokens to a leaf
of a prefix tree, and compared with the *clusters* in that leaf.

Each position of a cluster is in one of three states:

* **constant**: every line so far had the same key there;
* **open**: the lines showed a few different keys (fewer than ``variable_values``); each
  key stands for a different message (``worker started`` / ``worker stopped``,
  ``stored as bytes`` / ``stored as values``), so the cluster holds one *event* per
  combination of keys at its open positions;
* **variable**: a placeholder was seen there, or ``variable_values`` different keys
  were: the events that differed only there are merged into one (the lowest id stays,
  the others become aliases of it).

This is the "bidirectional" evidence of Brain (Yu et al., 2023) made streaming: a
position whose values vary among lines that agree elsewhere becomes a variable, and a
token repeated across many lines stays a constant even when it holds a digit. Merging is
the only change an event ever sees after its creation, so a template id, once returned,
always resolves (through `TemplateTree.resolve`) to the event that now holds its lines.

A message joins the cluster that *covers* it (equal wherever the cluster is not
variable, an open position counting as equal when the message's key is one of its
keys), the most specific first; otherwise the most similar cluster (share of the
cluster's non-variable positions where the message has an equal key: a position known to
vary counts neither way) when that share reaches ``similarity_threshold``; otherwise it
starts a cluster.

A new event is first looked up by its *skeleton*, the sequence of its constant keys
(open keys included, variables left out): a message that differs from a known event
only by an optional variable part (``sent <NUM> bytes`` / ``sent <NUM> bytes (<SIZE>)``)
or by the number of variable tokens in a list has the same skeleton but another token
count, and joins that event instead of making a new one. An event can so span clusters
of several lengths; its text aligns their tokens (`render_event`).
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher
from typing import Any

from domain.aiops.logparse_masks import render_placeholders
from domain.aiops.logparse_tokens import (
    WILD,
    collapse_lists,
    generalize,
    is_identifier,
    route_key,
)

__all__ = ["Cluster", "Event", "TemplateTree"]

Values = tuple[str, ...]
#: An open position: its keys, each with the display text of its lines.
OpenKeys = dict[str, str]


class Cluster:
    """Lines of one token count routed to one leaf that matched each other.

    Attributes
    ----------
    index:
        Position in `TemplateTree.clusters`.
    keys:
        Per position: the constant key, `WILD` for a variable, or the `OpenKeys` of an
        open position.
    texts:
        Per position: display text of a constant or variable position ("" when open).
    events:
        Event id per combination of keys at the open positions (in position order).
    """

    __slots__ = ("events", "index", "keys", "texts")

    def __init__(self, index: int, keys: list[str], texts: list[str]) -> None:
        self.index = index
        self.keys: list[str | OpenKeys] = list(keys)
        self.texts = texts
        self.events: dict[Values, int] = {}

    def open_positions(self) -> list[int]:
        """Positions that are open, in order."""
        return [p for p, key in enumerate(self.keys) if isinstance(key, dict)]

    def tokens(self, values: Values) -> tuple[list[str], list[bool]]:
        """Display tokens of the event with ``values`` and, per token, whether it is constant."""
        tokens: list[str] = []
        constant: list[bool] = []
        opened = iter(values)
        for key, text in zip(self.keys, self.texts, strict=True):
            if isinstance(key, dict):
                tokens.append(key[next(opened)])
                constant.append(True)
            else:
                tokens.append(text)
                constant.append(key != WILD)
        return tokens, constant

    def skeleton(self, values: Values) -> Values:
        """Constant keys of the event with ``values``, in order, each list of names
        collapsed to one `LIST` (variables left out)."""
        if values:
            opened = iter(values)
            keys = [next(opened) if isinstance(key, dict) else key for key in self.keys]
        else:
            keys = self.keys  # type: ignore[assignment]  # no open position: all strings
        return tuple(key for key in collapse_lists(keys) if key != WILD)


class Event:
    """A template: the lines of one message, possibly over several clusters.

    Attributes
    ----------
    id:
        Template id (stable; an alias once merged into another event).
    variants:
        ``(cluster index, values at its open positions)`` of each place it lives.
    count, first_line, last_line:
        Lines assigned, first and last line number (from 1, over the miner's life).
    alias:
        Id of the event it was merged into, or None while it is live.
    text:
        Cached display text ("" when it must be rendered again).
    """

    __slots__ = ("alias", "count", "first_line", "id", "last_line", "text", "variants")

    def __init__(self, event_id: int, variants: list[tuple[int, Values]], line: int) -> None:
        self.id = event_id
        self.variants = variants
        self.count = 0
        self.first_line = line
        self.last_line = line
        self.alias: int | None = None
        self.text = ""


class _Node:
    __slots__ = ("children", "clusters")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.clusters: list[Cluster] = []


class TemplateTree:
    """Clusters, events and the prefix tree (see the module doc).

    Parameters
    ----------
    similarity_threshold:
        Minimum share of a cluster's non-variable positions with an equal key for a
        message to join a cluster that does not cover it; 0 < value <= 1.
    depth:
        Prefix tree depth as in Drain: routes on the token count, then on the first
        ``depth - 2`` route keys. At least 3.
    max_children:
        Children of a tree node before new route keys share a wildcard child.
    variable_values:
        Number of different keys after which a position is a variable (2 makes every
        difference a variable at once, as in Drain). At least 2.
    first_id:
        Id of the first event (ids below it belong to someone else).
    """

    def __init__(
        self,
        *,
        similarity_threshold: float,
        depth: int,
        max_children: int,
        variable_values: int,
        first_id: int = 1,
    ) -> None:
        self.similarity_threshold = similarity_threshold
        self.prefix_depth = depth - 2
        self.max_children = max_children
        self.variable_values = variable_values
        self.first_id = first_id
        self.clusters: list[Cluster] = []
        self.events: list[Event] = []
        self.skeletons: dict[Values, int] = {}
        self.merges = 0
        self._root: dict[int, _Node] = {}

    # ------------------------------------------------------------------ events
    def event(self, event_id: int) -> Event:
        """The event with this id (merged or not). Raises KeyError when unknown."""
        index = event_id - self.first_id
        if not 0 <= index < len(self.events):
            raise KeyError(f"unknown template id {event_id}")
        return self.events[index]

    def resolve(self, event_id: int) -> int:
        """The live event that now holds the lines of ``event_id``."""
        event = self.events[event_id - self.first_id]
        if event.alias is None:
            return event_id
        root = event.alias
        while (alias := self.events[root - self.first_id].alias) is not None:
            root = alias
        event.alias = root
        return root

    def live(self) -> list[Event]:
        """Events that were not merged into another, by id."""
        return [event for event in self.events if event.alias is None]

    def render(self, event: Event) -> str:
        """Display text of an event, ``<NAME>`` placeholders rendered."""
        if not event.text:
            variants = [self.clusters[index].tokens(values) for index, values in event.variants]
            tokens, _ = variants[0]
            if len(variants) > 1:
                tokens = _align(variants)
            event.text = render_placeholders(" ".join(tokens))
        return event.text

    # ------------------------------------------------------------------ adding
    def add(self, tokens: list[str], keys: list[str], line: int) -> int:
        """Assign one tokenised message and return its (live) event id.

        Parameters
        ----------
        tokens, keys:
            From `logparse_tokens.tokenize`.
        line:
            Its line number, for a new event's first line.

        Returns
        -------
        int
            The event id.
        """
        cluster = self._match(keys)
        if cluster is None:
            cluster = Cluster(len(self.clusters), keys, tokens)
            self.clusters.append(cluster)
            self._insert(cluster)
            values: Values = ()
        else:
            values = self._absorb(cluster, keys, tokens)
        event_id = cluster.events.get(values)
        if event_id is None:
            event_id = self._new_event(cluster, values, line)
        return self.resolve(event_id)

    def _match(self, keys: list[str]) -> Cluster | None:
        root = self._root.get(len(keys))
        if root is None:
            return None
        # The leaf of the route (a word's own child, else the wildcard child, as in
        # Drain) is where a message may join a similar cluster; a cluster that covers
        # it is looked for in every leaf it could route to (its word's child or the
        # wildcard child at each level), so a message seen before finds its cluster
        # again even after a child for one of its words appeared in the tree.
        leaves = [root]
        primary: _Node | None = root
        for key in keys[: self.prefix_depth]:
            route = route_key(key)
            following: list[_Node] = []
            for node in leaves:
                child = node.children.get(route)
                if child is not None:
                    following.append(child)
                if route != WILD and (wild := node.children.get(WILD)) is not None:
                    following.append(wild)
            if primary is not None:
                primary = primary.children.get(route) or primary.children.get(WILD)
            leaves = following
            if not leaves:
                return None
        covering: Cluster | None = None
        covering_same = -1
        best: Cluster | None = None
        best_same = -1
        best_variables = -1
        size = len(keys)
        for node in leaves:
            for cluster in node.clusters:
                same = 0
                variables = 0
                for cluster_key, key in zip(cluster.keys, keys, strict=True):
                    if cluster_key == key:
                        if key == WILD:
                            variables += 1
                        else:
                            same += 1
                    elif cluster_key == WILD:
                        variables += 1
                    elif isinstance(cluster_key, dict) and key in cluster_key:
                        same += 1
                if same + variables == size and same > covering_same:
                    covering, covering_same = cluster, same
                if node is primary and (
                    same > best_same or (same == best_same and variables > best_variables)
                ):
                    best, best_same, best_variables = cluster, same, variables
        if covering is not None:
            return covering
        if best is not None and best_same >= self.similarity_threshold * (size - best_variables):
            return best
        return None

    def _insert(self, cluster: Cluster) -> None:
        keys = cluster.keys
        node = self._root.get(len(keys))
        if node is None:
            node = self._root[len(keys)] = _Node()
        for key in keys[: self.prefix_depth]:
            token = route_key(key) if isinstance(key, str) else WILD
            children = node.children
            child = children.get(token)
            if child is None:
                wild = children.get(WILD)
                if token == WILD:
                    child = children[WILD] = _Node()
                elif wild is not None:
                    child = children[token] = _Node() if len(children) < self.max_children else wild
                elif len(children) + 1 < self.max_children:
                    child = children[token] = _Node()
                else:
                    child = children[WILD] = _Node()
            node = child
        node.clusters.append(cluster)

    def _absorb(self, cluster: Cluster, keys: list[str], tokens: list[str]) -> Values:
        """Update ``cluster`` with a message it matched; return the message's open values."""
        cluster_keys = cluster.keys
        texts = cluster.texts
        values: list[str] = []
        for position, key in enumerate(keys):
            cluster_key = cluster_keys[position]
            token = tokens[position]
            if isinstance(cluster_key, dict):
                text = cluster_key.get(key)
                if text is not None:
                    if text != token:
                        cluster_key[key] = generalize(text, token)
                    values.append(key)
                elif (
                    key == WILD
                    or len(cluster_key) + 1 >= self.variable_values
                    or (is_identifier(key) and all(map(is_identifier, cluster_key)))
                ):
                    self._make_variable(cluster, position, token)
                else:
                    cluster_key[key] = token
                    values.append(key)
            elif cluster_key in (key, WILD):
                if texts[position] != token:
                    texts[position] = generalize(texts[position], token)
            elif (
                key == WILD
                or self.variable_values <= 2
                or (is_identifier(key) and is_identifier(cluster_key))
            ):
                cluster_keys[position] = WILD
                texts[position] = generalize(texts[position], token)
                self._changed(cluster)
            else:
                self._make_open(cluster, position, key, token)
                values.append(key)
        return tuple(values)

    def _make_open(self, cluster: Cluster, position: int, key: str, token: str) -> None:
        old_key = cluster.keys[position]
        assert isinstance(old_key, str)
        before = sum(isinstance(k, dict) for k in cluster.keys[:position])
        cluster.keys[position] = {old_key: cluster.texts[position], key: token}
        cluster.texts[position] = ""
        self._rekey(cluster, lambda v: (*v[:before], old_key, *v[before:]))

    def _make_variable(self, cluster: Cluster, position: int, token: str) -> None:
        opened = cluster.keys[position]
        assert isinstance(opened, dict)
        before = sum(isinstance(k, dict) for k in cluster.keys[:position])
        text = token
        for value_text in opened.values():
            text = generalize(value_text, text)
        cluster.keys[position] = WILD
        cluster.texts[position] = text
        self._rekey(cluster, lambda v: (*v[:before], *v[before + 1 :]))

    def _rekey(self, cluster: Cluster, change: Any) -> None:
        """Apply ``change`` to the values of every event of ``cluster``; merge collisions."""
        index = cluster.index
        events: dict[Values, int] = {}
        for values, event_id in cluster.events.items():
            new_values: Values = change(values)
            event_id = self.resolve(event_id)
            event = self.events[event_id - self.first_id]
            event.variants = [
                (i, new_values if i == index and v == values else v) for i, v in event.variants
            ]
            other = events.get(new_values)
            if other is None:
                events[new_values] = event_id
            elif other != event_id:
                events[new_values] = self._merge(other, event_id)
        cluster.events = events
        self._changed(cluster)

    def _merge(self, first_id: int, second_id: int) -> int:
        keep, gone = sorted((self.resolve(first_id), self.resolve(second_id)))
        kept = self.events[keep - self.first_id]
        merged = self.events[gone - self.first_id]
        for variant in merged.variants:
            if variant not in kept.variants:
                kept.variants.append(variant)
        kept.count += merged.count
        kept.first_line = min(kept.first_line, merged.first_line)
        kept.last_line = max(kept.last_line, merged.last_line)
        kept.text = ""
        merged.alias = keep
        merged.variants = []
        merged.count = 0
        self.merges += 1
        return keep

    def _changed(self, cluster: Cluster) -> None:
        """Forget texts of the cluster's events and index their (new) skeletons."""
        for values, event_id in cluster.events.items():
            event = self.events[self.resolve(event_id) - self.first_id]
            event.text = ""
            skeleton = cluster.skeleton(values)
            if skeleton:
                self.skeletons.setdefault(skeleton, event.id)

    def _new_event(self, cluster: Cluster, values: Values, line: int) -> int:
        skeleton = cluster.skeleton(values)
        known = self.skeletons.get(skeleton) if skeleton else None
        if known is not None:
            event = self.events[self.resolve(known) - self.first_id]
            lengths = {len(self.clusters[i].keys) for i, _ in event.variants}
            valid = any(self.clusters[i].skeleton(v) == skeleton for i, v in event.variants)
            if valid and len(cluster.keys) not in lengths:
                event.variants.append((cluster.index, values))
                event.text = ""
                cluster.events[values] = event.id
                return event.id
            elif not valid:
                known = None  # a stale entry: that event's skeleton has changed since
        event = Event(self.first_id + len(self.events), [(cluster.index, values)], line)
        self.events.append(event)
        cluster.events[values] = event.id
        if skeleton and known is None:
            self.skeletons[skeleton] = event.id
        return event.id

    # ------------------------------------------------------------------ state
    def to_state(self) -> dict[str, Any]:
        """Clusters, events, skeleton index and tree as JSON-able data."""

        def node_state(node: _Node) -> dict[str, Any]:
            state: dict[str, Any] = {}
            if node.clusters:
                state["clusters"] = [cluster.index for cluster in node.clusters]
            if node.children:
                state["children"] = {key: node_state(child) for key, child in node.children.items()}
            return state

        return {
            "clusters": [
                {
                    "keys": [key if isinstance(key, str) else None for key in cluster.keys],
                    "texts": list(cluster.texts),
                    "open": {
                        str(p): dict(key)
                        for p, key in enumerate(cluster.keys)
                        if isinstance(key, dict)
                    },
                    "events": [
                        [list(values), event_id] for values, event_id in cluster.events.items()
                    ],
                }
                for cluster in self.clusters
            ],
            "events": [
                {
                    "id": event.id,
                    "variants": [[index, list(values)] for index, values in event.variants],
                    "count": event.count,
                    "first_line": event.first_line,
                    "last_line": event.last_line,
                    "alias": event.alias,
                }
                for event in self.events
            ],
            "skeletons": [
                [list(skeleton), event_id] for skeleton, event_id in self.skeletons.items()
            ],
            "tree": {str(length): node_state(node) for length, node in self._root.items()},
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what `to_state` wrote, into an empty tree.

        Raises KeyError, TypeError or ValueError for a malformed state.
        """
        for index, item in enumerate(state["clusters"]):
            keys = [str(key) if key is not None else "" for key in item["keys"]]
            cluster = Cluster(index, keys, [str(text) for text in item["texts"]])
            for position, opened in item["open"].items():
                cluster.keys[int(position)] = {str(k): str(v) for k, v in opened.items()}
            if any(key == "" and not isinstance(key, dict) for key in cluster.keys):
                raise ValueError(f"cluster {index} has an open position without keys")
            if len(cluster.keys) != len(cluster.texts):
                raise ValueError(f"cluster {index} has mismatched keys and texts")
            cluster.events = {tuple(map(str, values)): int(i) for values, i in item["events"]}
            self.clusters.append(cluster)
        for position, item in enumerate(state["events"]):
            if int(item["id"]) != self.first_id + position:
                raise ValueError(f"template ids must run from {self.first_id}, got {item['id']}")
            event = Event(
                int(item["id"]),
                [(int(i), tuple(map(str, v))) for i, v in item["variants"]],
                int(item["first_line"]),
            )
            event.count = int(item["count"])
            event.last_line = int(item["last_line"])
            event.alias = None if item["alias"] is None else int(item["alias"])
            self.events.append(event)
        self.skeletons = {tuple(map(str, s)): int(i) for s, i in state["skeletons"]}

        def build(node_state: dict[str, Any]) -> _Node:
            node = _Node()
            node.clusters = [self.clusters[int(i)] for i in node_state.get("clusters", ())]
            for key, child in node_state.get("children", {}).items():
                node.children[str(key)] = build(child)
            return node

        self._root = {int(length): build(node) for length, node in state["tree"].items()}


def _align(variants: Iterable[tuple[list[str], list[bool]]]) -> list[str]:
    """Tokens of an event living at several token counts: constants shared by every
    variant, in order, with whatever lies between them generalised position by position
    when the variants agree on its length, else shown as one ``<*>``."""
    merged: tuple[list[str], list[bool]] | None = None
    for tokens, constant in variants:
        if merged is None:
            merged = (tokens, constant)
            continue
        left_tokens, left_constant = merged
        left_keys = [t if c else f"\x00{i}" for i, (t, c) in enumerate(zip(*merged, strict=True))]
        right_keys = [
            t if c else f"\x01{i}" for i, (t, c) in enumerate(zip(tokens, constant, strict=True))
        ]
        out_tokens: list[str] = []
        out_constant: list[bool] = []
        a = b = 0
        blocks = SequenceMatcher(None, left_keys, right_keys, autojunk=False).get_matching_blocks()
        for block in blocks:
            gap_a = left_tokens[a : block.a]
            gap_b = tokens[b : block.b]
            if len(gap_a) == len(gap_b):
                out_tokens += [generalize(x, y) for x, y in zip(gap_a, gap_b, strict=True)]
                out_constant += [False] * len(gap_a)
            elif gap_a or gap_b:
                out_tokens.append(WILD)
                out_constant.append(False)
            out_tokens += left_tokens[block.a : block.a + block.size]
            out_constant += left_constant[block.a : block.a + block.size]
            a, b = block.a + block.size, block.b + block.size
        merged = (out_tokens, out_constant)
    assert merged is not None
    return merged[0]
