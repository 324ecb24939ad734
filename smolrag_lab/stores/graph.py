"""The knowledge graph's in-memory side: a networkx *view* of the committed rows, and GraphML.

The graph itself lives as rows (see :mod:`.graph_rows`). Retrieval reads a :class:`GraphView`, a
networkx copy that is brought up to date by applying the rows changed since the version it shows,
so a process sees another one's commit on its next query. GraphML is an export format only (and
the layout of indexes written before the rows, read once to convert them).
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from .atomic import atomic_write_bytes

Pair = tuple[str, str]
# Characters XML 1.0 cannot carry (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class GraphChanges:
    """The rows changed after some version: current attributes of what was written, keys of what was
    removed. ``full`` means the rows are the whole graph (a first load).
    """

    version: int
    nodes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    edges: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    removed_nodes: list[str] = field(default_factory=list)
    removed_edges: list[Pair] = field(default_factory=list)
    full: bool = False

    def __len__(self) -> int:
        return len(self.nodes) + len(self.edges) + len(self.removed_nodes) + len(self.removed_edges)


class GraphView:
    """A networkx graph of the committed rows as of ``version``, with the provenance inverted (the
    entities each excerpt mentions); both updated in place from :class:`GraphChanges`.
    """

    def __init__(self) -> None:
        self.graph = nx.Graph()
        self.version = -1
        self.readers = 0  # queries reading this view now (see Index.reading_graph)
        self.mentions: dict[str, dict[str, None]] = defaultdict(dict)

    def copy(self) -> GraphView:
        """An independent copy (used when a query still reads this one while it must change)."""
        other = GraphView()
        other.graph, other.version = self.graph.copy(), self.version
        other.mentions = defaultdict(dict, {k: dict(v) for k, v in self.mentions.items()})
        return other

    def apply(self, changes: GraphChanges) -> None:
        graph = self.graph
        if changes.full:
            graph.clear()
            self.mentions.clear()
        for pair in changes.removed_edges:
            if graph.has_edge(*pair):
                graph.remove_edge(*pair)
        for key in changes.removed_nodes:
            if key in graph:
                self._unmention(key)
                graph.remove_node(key)
        for key, attrs in changes.nodes:
            old: Iterable[str] = ()
            if key in graph:
                old = graph.nodes[key].get("excerpt_ids", ())
                graph.nodes[key].clear()
                graph.nodes[key].update(attrs)
            else:
                graph.add_node(key, **attrs)
            self._remention(key, old, attrs.get("excerpt_ids", ()))
        for source, target, attrs in changes.edges:
            if graph.has_edge(source, target):
                graph.edges[source, target].clear()
            graph.add_edge(source, target, **attrs)
        self.version = changes.version

    def _remention(self, key: str, old: Iterable[str], new: Iterable[str]) -> None:
        """Move ``key``'s provenance from the ``old`` excerpt ids to the ``new`` ones (only the
        difference: an entity cited by thousands of excerpts changes by a few per commit).
        """
        old, new = set(old), set(new)
        self._unmention(key, old - new)
        for excerpt_id in new - old:
            self.mentions[excerpt_id][key] = None

    def _unmention(self, key: str, excerpt_ids: Iterable[str] | None = None) -> None:
        if excerpt_ids is None:
            excerpt_ids = self.graph.nodes[key].get("excerpt_ids", ())
        for excerpt_id in excerpt_ids:
            keys = self.mentions.get(excerpt_id)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self.mentions[excerpt_id]


def to_graphml(graph: nx.Graph) -> bytes:
    """GraphML of ``graph``: list and dict attributes as JSON strings (their keys listed in the
    graph attribute ``list_attributes``), every character XML 1.0 forbids replaced by U+FFFD.
    """
    export = nx.Graph()
    list_keys: set[str] = set()
    export.graph.update(
        {k: _xml_safe(v) for k, v in graph.graph.items() if not isinstance(v, (list, dict))}
    )
    for name, attrs in graph.nodes(data=True):
        export.add_node(_xml_safe(name), **_flatten(attrs, list_keys))
    for source, target, attrs in graph.edges(data=True):
        export.add_edge(_xml_safe(source), _xml_safe(target), **_flatten(attrs, list_keys))
    export.graph["list_attributes"] = json.dumps(sorted(list_keys))
    buffer = io.BytesIO()
    nx.write_graphml(export, buffer)
    return buffer.getvalue()


def export_graphml(graph: nx.Graph, path: str | Path) -> Path:
    """Write ``graph`` as GraphML to ``path`` atomically."""
    atomic_write_bytes(path, to_graphml(graph))
    return Path(path)


def read_graphml(path: str | Path) -> nx.Graph:
    """A GraphML file written by :func:`to_graphml` (or the pre-rows store), lists decoded."""
    graph = nx.read_graphml(path)
    list_keys = set(json.loads(graph.graph.pop("list_attributes", "[]")))
    for _, attrs in list(graph.nodes(data=True)) + [(None, d) for *_, d in graph.edges(data=True)]:
        for key in list_keys & attrs.keys():
            attrs[key] = json.loads(attrs[key])
    return nx.Graph(graph)


def _xml_safe(value: Any) -> Any:
    return _NOT_XML.sub("\ufffd", value) if isinstance(value, str) else value


def _flatten(attrs: dict[str, Any], list_keys: set[str]) -> dict[str, Any]:
    flat = {}
    for key, value in attrs.items():
        if isinstance(value, (list, tuple, dict)):
            list_keys.add(key)
            flat[key] = _xml_safe(json.dumps(value, ensure_ascii=False))
        elif value is not None:
            flat[key] = _xml_safe(value)
    return flat
