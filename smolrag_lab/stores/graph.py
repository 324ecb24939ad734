"""Knowledge graph: a networkx graph persisted as GraphML, saved atomically.

GraphML holds scalars only, so list-valued attributes (descriptions, keywords, excerpt ids) are
stored as JSON strings and their keys recorded in the graph attribute ``list_attributes``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import networkx as nx

from .atomic import atomic_write_bytes
from .base import GraphStore


class NetworkXGraph(GraphStore):
    """The GraphStore operations on an in-memory networkx graph (``self.graph``); subclasses persist it."""

    graph: nx.Graph

    # Nodes and edges ----------------------------------------------------------------------
    def upsert_node(self, name: str, **attrs: Any) -> None:
        if name in self.graph:
            self.graph.nodes[name].update(attrs)
        else:
            self.graph.add_node(name, **attrs)

    def upsert_edge(self, source: str, target: str, **attrs: Any) -> None:
        if self.graph.has_edge(source, target):
            self.graph.edges[source, target].update(attrs)
        else:
            self.graph.add_edge(source, target, **attrs)

    def node(self, name: str) -> dict[str, Any] | None:
        return self.graph.nodes[name] if name in self.graph else None

    def edge(self, source: str, target: str) -> dict[str, Any] | None:
        return self.graph.edges[source, target] if self.graph.has_edge(source, target) else None

    def remove_node(self, name: str) -> None:
        if name in self.graph:
            self.graph.remove_node(name)

    def remove_edge(self, source: str, target: str) -> None:
        if self.graph.has_edge(source, target):
            self.graph.remove_edge(source, target)

    def degree(self, name: str) -> int:
        return int(self.graph.degree(name)) if name in self.graph else 0

    def neighbours(self, name: str) -> list[str]:
        return list(self.graph.neighbors(name)) if name in self.graph else []

    def edges_of(self, name: str) -> list[tuple[str, str]]:
        return list(self.graph.edges(name)) if name in self.graph else []

    def number_of_nodes(self) -> int:
        return self.graph.number_of_nodes()

    def number_of_edges(self) -> int:
        return self.graph.number_of_edges()


class NetworkXGraphStore(NetworkXGraph):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.graph = self._load(self.path) if self.path.exists() else nx.Graph()

    @staticmethod
    def _load(path: Path) -> nx.Graph:
        graph = nx.read_graphml(path)
        list_keys = set(json.loads(graph.graph.pop("list_attributes", "[]")))
        for _, attrs in list(graph.nodes(data=True)) + [
            (None, d) for *_, d in graph.edges(data=True)
        ]:
            for key in list_keys & attrs.keys():
                attrs[key] = json.loads(attrs[key])
        return nx.Graph(graph)

    def reload(self) -> None:
        self.graph = self._load(self.path) if self.path.exists() else nx.Graph()

    def save(self) -> None:
        atomic_write_bytes(self.path, self.to_graphml())

    def to_graphml(self) -> bytes:
        export = nx.Graph()
        list_keys: set[str] = set()
        export.graph.update(
            {k: v for k, v in self.graph.graph.items() if not isinstance(v, (list, dict))}
        )
        for name, attrs in self.graph.nodes(data=True):
            export.add_node(name, **_flatten(attrs, list_keys))
        for source, target, attrs in self.graph.edges(data=True):
            export.add_edge(source, target, **_flatten(attrs, list_keys))
        export.graph["list_attributes"] = json.dumps(sorted(list_keys))
        buffer = io.BytesIO()
        nx.write_graphml(export, buffer)
        return buffer.getvalue()

    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0


def _flatten(attrs: dict[str, Any], list_keys: set[str]) -> dict[str, Any]:
    flat = {}
    for key, value in attrs.items():
        if isinstance(value, (list, tuple, dict)):
            list_keys.add(key)
            flat[key] = json.dumps(value, ensure_ascii=False)
        elif value is not None:
            flat[key] = value
    return flat
