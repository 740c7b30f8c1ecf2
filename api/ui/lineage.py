"""A dataset version's lineage as a small left-to-right graph (inline SVG, no library):
its sources, the version, and what was made from it (tables, dataset versions, models)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLUMN_X = (10, 300, 590)
NODE_W, NODE_H, ROW_H, TOP = 230, 44, 58, 30
LABEL_CHARS = 28


@dataclass(frozen=True)
class Node:
    label: str
    sub: str
    href: str | None = None


@dataclass
class Graph:
    title: str
    columns: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    width: int = COLUMN_X[-1] + NODE_W + 10
    height: int = TOP + ROW_H


def _clip(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def layout(title: str, sources: list[Node], center: Node, outputs: list[Node]) -> Graph:
    """Sources → the version → outputs, each column centred on the tallest."""
    graph = Graph(title=title)
    rows = max(len(sources), len(outputs), 1)
    graph.height = TOP + rows * ROW_H
    labels = ("Sources", "Version", "Made from it")
    graph.columns = [{"x": x, "label": label} for x, label in zip(COLUMN_X, labels, strict=True)]

    def place(column: int, items: list[Node], *, is_self: bool = False) -> list[tuple[int, int]]:
        offset = (rows - len(items)) * ROW_H / 2
        spots = []
        for i, node in enumerate(items):
            x, y = COLUMN_X[column], int(TOP + offset + i * ROW_H)
            graph.nodes.append(
                {
                    "x": x,
                    "y": y,
                    "w": NODE_W,
                    "h": NODE_H,
                    "label": _clip(node.label),
                    "sub": _clip(node.sub),
                    "href": node.href,
                    "self": is_self,
                }
            )
            spots.append((x, y))
        return spots

    left = place(0, sources)
    (mid,) = place(1, [center], is_self=True)
    right = place(2, outputs)
    for x, y in left:
        graph.edges.append(_curve(x + NODE_W, y + NODE_H // 2, mid[0], mid[1] + NODE_H // 2))
    for x, y in right:
        graph.edges.append(_curve(mid[0] + NODE_W, mid[1] + NODE_H // 2, x, y + NODE_H // 2))
    return graph


def _curve(x1: int, y1: int, x2: int, y2: int) -> str:
    bend = (x2 - x1) // 2
    return f"M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}"
