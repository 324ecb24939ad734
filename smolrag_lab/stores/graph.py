"""The knowledge graph's in-memory side: a networkx *view* of the committed rows, and GraphML.

The graph itself lives as rows (see :mod:`.graph_rows`): one per entity and per relationship, and
one per document's *contribution* to each (its descriptions, keywords, weight, type counts and the
excerpts of it that cite the item). Retrieval reads a :class:`GraphView`, a networkx copy brought up
to date by applying the rows changed since the version it shows; a commit changes only the
contributions of the document it writes, so a reader's refresh costs what that document added, not
what the items it touched have accumulated. GraphML is an export format only (and the layout of
indexes written before the rows, read once to convert them).
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from .atomic import atomic_write_bytes

Pair = tuple[str, str]
Item = tuple[str, str, str]  # ("n", key, "") for an entity, ("e", source, target) for an edge
Contribution = tuple[str, str, str, str]  # an item and the id of the document contributing
# Characters XML 1.0 cannot carry (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Where a view item keeps each field of its contributions, by document id.
NODE_FIELDS = {
    "descriptions": "descriptions",
    "types": "types_by_doc",
    "excerpt_ids": "excerpts_by_doc",
}
EDGE_FIELDS = {
    "descriptions": "descriptions",
    "keywords": "keywords",
    "weight": "weights",
    "excerpt_ids": "excerpts_by_doc",
}


def empty_contribution(kind: str) -> dict[str, Any]:
    """A document's contribution to a node (``"n"``) or an edge before it adds anything: the
    fields of :data:`NODE_FIELDS` or :data:`EDGE_FIELDS`.
    """
    if kind == "n":
        return {"descriptions": [], "types": {}, "excerpt_ids": []}
    return {"descriptions": [], "keywords": [], "weight": 0.0, "excerpt_ids": []}


def node_item(key: str) -> Item:
    return ("n", key, "")


def edge_item(pair: Iterable[str]) -> Item:
    source, target = sorted(pair)
    return ("e", source, target)


@dataclass
class GraphWrite:
    """What one commit changes: item rows created, items removed (with every contribution to them),
    and contributions set or (None) taken out. Contributions keep the order they were made in.
    """

    created: dict[Item, dict[str, Any]] = field(default_factory=dict)
    removed: set[Item] = field(default_factory=set)
    contributions: dict[Contribution, dict[str, Any] | None] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.created or self.removed or self.contributions)


@dataclass
class GraphChanges:
    """The rows changed after some version: item rows and contributions written (current values),
    items and contributions removed. ``full`` means the rows are the whole graph (a first load).
    """

    version: int
    items: list[tuple[Item, dict[str, Any]]] = field(default_factory=list)
    contributions: list[tuple[Contribution, dict[str, Any]]] = field(default_factory=list)
    removed_items: list[Item] = field(default_factory=list)
    removed_contributions: list[Contribution] = field(default_factory=list)
    full: bool = False

    def __len__(self) -> int:
        return (
            len(self.items)
            + len(self.contributions)
            + len(self.removed_items)
            + len(self.removed_contributions)
        )


def _empty_item(kind: str, name: str = "") -> dict[str, Any]:
    buckets = NODE_FIELDS if kind == "n" else EDGE_FIELDS
    attrs: dict[str, Any] = {bucket: {} for bucket in buckets.values()}
    attrs["excerpt_ids"] = {}  # every contribution's excerpts, in contribution order
    if kind == "n":
        attrs.update(name=name, types={})
    else:
        attrs["weight"] = 0.0
    return attrs


class GraphView:
    """A networkx graph of the committed rows as of ``version``, with the provenance inverted (the
    entities each excerpt mentions); both updated in place from :class:`GraphChanges`.

    An item's attributes hold each field of its contributions by document id (``descriptions``,
    ``types_by_doc``, ``keywords``, ``weights``, ``excerpts_by_doc``) and the totals retrieval
    reads: ``excerpt_ids`` (a dict, in contribution order), ``types`` (positive counts), ``weight``.
    """

    def __init__(self) -> None:
        self.graph = nx.Graph()
        self.version = -1
        self.readers = 0  # queries reading this view now (see Index.reading_graph)
        self.mentions: dict[str, dict[str, None]] = defaultdict(dict)

    def copy(self) -> GraphView:
        """An independent copy (used when a query still reads this one while it must change):
        the containers :meth:`apply` changes in place are copied, the per-document values shared.
        """
        other = GraphView()
        other.version = self.version
        other.graph.add_nodes_from((k, _copy(a)) for k, a in self.graph.nodes(data=True))
        other.graph.add_edges_from((u, v, _copy(a)) for u, v, a in self.graph.edges(data=True))
        other.mentions = defaultdict(dict, {k: dict(v) for k, v in self.mentions.items()})
        return other

    def apply(self, changes: GraphChanges) -> None:
        """Removals first, then rows: the rows are the current state, so this order is right even
        when the changes span several commits that removed and re-made an item.
        """
        if changes.full:
            self._load(changes)
            return
        for item in changes.removed_items:
            self._remove(item)
        for contribution in changes.removed_contributions:
            self._contribute(contribution, None)
        for item, attrs in changes.items:
            self._item(item, attrs.get("name", item[1]))
        for contribution, attrs in changes.contributions:
            self._contribute(contribution, attrs)
        self.version = changes.version

    def _load(self, changes: GraphChanges) -> None:
        """A whole graph at once: every item's attributes assembled from its contributions (in the
        order they were made, as :meth:`_contribute` would leave them), then handed to networkx in
        two bulk calls; several times faster than applying the contributions one by one.
        """
        nodes: dict[str, dict[str, Any]] = {}
        edges: dict[Pair, dict[str, Any]] = {}

        def edge(pair: Pair) -> dict[str, Any]:  # made as _item makes it: its ends first
            if pair not in edges:
                for end in pair:
                    nodes.setdefault(end, _empty_item("n", end))
                edges[pair] = _empty_item("e")
            return edges[pair]

        self.mentions.clear()
        for (kind, a, b), attrs in changes.items:
            if kind == "n":
                nodes.setdefault(a, _empty_item("n", attrs.get("name", a)))
            else:
                edge((a, b))
        for (kind, a, b, doc_id), values in changes.contributions:
            if kind == "n":
                attrs = nodes.get(a) or nodes.setdefault(a, _empty_item("n", a))
                _count(attrs["types"], values["types"], 1)
                for excerpt_id in values["excerpt_ids"]:
                    self.mentions[excerpt_id][a] = None
            else:
                attrs = edge((a, b))
            for name, bucket in (NODE_FIELDS if kind == "n" else EDGE_FIELDS).items():
                attrs[bucket][doc_id] = values[name]
            attrs["excerpt_ids"].update(dict.fromkeys(values["excerpt_ids"]))
        for attrs in edges.values():
            attrs["weight"] = _total(attrs["weights"].values())
        self.graph = nx.Graph()
        self.graph.add_nodes_from(nodes.items())
        self.graph.add_edges_from((a, b, attrs) for (a, b), attrs in edges.items())
        self.version = changes.version

    def _item(self, item: Item, name: str) -> dict[str, Any]:
        """The item's attribute dict, made if missing. It reads networkx's own node and adjacency
        dicts (``_node``, ``_adj``): the views around them cost more than the work of a refresh.
        """
        kind, a, b = item
        graph = self.graph
        if kind == "n":
            attrs = graph._node.get(a)
            if attrs is None or "excerpt_ids" not in attrs:
                graph.add_node(a, **_empty_item("n", name))
                attrs = graph._node[a]
            return attrs
        attrs = graph._adj.get(a, {}).get(b)
        if attrs is None:
            for end in (a, b):
                self._item(node_item(end), end)
            graph.add_edge(a, b, **_empty_item("e"))
            attrs = graph._adj[a][b]
        return attrs

    def _remove(self, item: Item) -> None:
        kind, a, b = item
        if kind == "e" and self.graph.has_edge(a, b):
            self.graph.remove_edge(a, b)
        elif kind == "n" and a in self.graph:
            self._unmention(a, self.graph.nodes[a].get("excerpt_ids", ()))
            self.graph.remove_node(a)

    def _contribute(self, contribution: Contribution, values: Mapping[str, Any] | None) -> None:
        """Replace one document's contribution to an item (None: take it out)."""
        kind, a, b, doc_id = contribution
        if values is None and not self._has(kind, a, b):
            return
        attrs = self._item((kind, a, b), a)
        fields = NODE_FIELDS if kind == "n" else EDGE_FIELDS
        old_ids = attrs["excerpts_by_doc"].get(doc_id)
        if old_ids is not None:
            cited = attrs["excerpt_ids"]
            for excerpt_id in old_ids:
                cited.pop(excerpt_id, None)
            if kind == "n":
                self._unmention(a, old_ids)
                _count(attrs["types"], attrs["types_by_doc"].get(doc_id, {}), -1)
            for bucket in fields.values():
                attrs[bucket].pop(doc_id, None)
        if values is not None:
            for name, bucket in fields.items():
                attrs[bucket][doc_id] = values[name]
            attrs["excerpt_ids"].update(dict.fromkeys(values["excerpt_ids"]))
            if kind == "n":
                _count(attrs["types"], values["types"], 1)
                for excerpt_id in values["excerpt_ids"]:
                    self.mentions[excerpt_id][a] = None
        if kind == "e" and old_ids is None and values is not None:
            attrs["weight"] += values["weight"]  # what _total gives: a sum in contribution order
        elif kind == "e":
            attrs["weight"] = _total(attrs["weights"].values())

    def _has(self, kind: str, a: str, b: str) -> bool:
        return a in self.graph._node if kind == "n" else b in self.graph._adj.get(a, {})

    def _unmention(self, key: str, excerpt_ids: Iterable[str]) -> None:
        for excerpt_id in excerpt_ids:
            keys = self.mentions.get(excerpt_id)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self.mentions[excerpt_id]


def _total(weights: Iterable[float]) -> float:
    """An edge's weight: its contributions' weights added in contribution order, one at a time, so
    that adding a contribution to the running total gives the same float as summing afresh (a
    refresh costs the contribution, not the item's history; ``sum`` compensates on Python 3.12+).
    """
    total = 0.0
    for weight in weights:
        total += weight
    return total


def _copy(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v.copy() if isinstance(v, dict) else v for k, v in attrs.items()}


def _count(totals: dict[str, int], counts: Mapping[str, int], sign: int) -> None:
    """Add (or take out) a contribution's type counts; a type whose total reaches 0 is dropped."""
    for entity_type, n in counts.items():
        total = totals.get(entity_type, 0) + sign * n
        if total > 0:
            totals[entity_type] = total
        else:
            totals.pop(entity_type, None)


def doc_of(excerpt_id: str) -> str:
    """The document an excerpt id belongs to (ids are ``<doc id>:<position>``)."""
    return excerpt_id.rsplit(":", 1)[0]


def as_write(graph: nx.Graph) -> GraphWrite:
    """The rows of a whole graph: a view's, or one of the attribute layout before contributions
    (GraphML files and the first row layout), where each document's part is found by its id.
    """
    write = GraphWrite()
    for key, attrs in graph.nodes(data=True):
        write.created[node_item(key)] = {"name": attrs.get("name", key)}
    for source, target in graph.edges:
        write.created[edge_item((source, target))] = {}
    for key, attrs in graph.nodes(data=True):
        for doc_id, values in split_contributions("n", attrs).items():
            write.contributions[("n", key, "", doc_id)] = values
    for source, target, attrs in graph.edges(data=True):
        item = edge_item((source, target))
        for doc_id, values in split_contributions("e", attrs).items():
            write.contributions[(*item, doc_id)] = values
    return write


def split_contributions(kind: str, attrs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each document's contribution to an item, from its attributes (a view's or an older one's)."""
    by_doc: dict[str, list[str]] = dict(attrs.get("excerpts_by_doc") or {})
    if not by_doc:
        for excerpt_id in attrs.get("excerpt_ids", ()):
            by_doc.setdefault(doc_of(excerpt_id), []).append(excerpt_id)
    types_by_doc = attrs.get("types_by_doc")
    if kind == "n" and types_by_doc is None and by_doc:  # oldest graphs kept totals only
        types_by_doc = {next(iter(by_doc)): attrs.get("types", {})}
    docs = dict.fromkeys(
        [*by_doc, *attrs.get("descriptions", {}), *(types_by_doc or {}), *attrs.get("weights", {})]
    )
    out = {}
    for doc_id in docs:
        values: dict[str, Any] = {
            "descriptions": list(attrs.get("descriptions", {}).get(doc_id, [])),
            "excerpt_ids": list(by_doc.get(doc_id, [])),
        }
        if kind == "n":
            counts = (types_by_doc or {}).get(doc_id, {})
            values["types"] = {t: n for t, n in counts.items() if n > 0}
        else:
            values["keywords"] = list(attrs.get("keywords", {}).get(doc_id, []))
            values["weight"] = float(attrs.get("weights", {}).get(doc_id, 0.0))
        out[doc_id] = values
    return out


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
        if key == "excerpt_ids":  # a view keeps them as a dict, for order and fast removal
            value = list(value)
        if isinstance(value, (list, tuple, dict)):
            list_keys.add(key)
            flat[key] = _xml_safe(json.dumps(value, ensure_ascii=False))
        elif value is not None:
            flat[key] = _xml_safe(value)
    return flat
