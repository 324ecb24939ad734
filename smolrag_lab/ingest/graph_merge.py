"""Merging extracted entities and relationships into the knowledge graph, and taking them out again.

Nodes are keyed by the case-folded entity name (so "SmolRAG", "Smolrag" and "SMOLRAG" merge) and
keep the first-seen spelling in ``name``. Everything a document contributes is stored under its id
(descriptions, keywords, weights, types), so deleting a document removes exactly what it added;
upstream left deleted documents' descriptions and weights behind. Caps apply when a node or edge is
read: the last ``description_cap`` descriptions, the last ``keywords_cap`` keywords; weights sum.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..providers.base import Extraction
from ..stores.base import GraphStore


def node_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def edge_key(a: str, b: str) -> tuple[str, str]:
    return tuple(sorted((node_key(a), node_key(b))))  # type: ignore[return-value]


def entity_id(key: str) -> str:
    return "ent-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def relationship_id(pair: tuple[str, str]) -> str:
    return "rel-" + hashlib.sha1("\x1f".join(pair).encode("utf-8")).hexdigest()[:20]


EMBED_WORDS = (
    32  # entity/relationship texts are cut here: the name and gist embed, the rest is context
)


def _words(text: str, limit: int = EMBED_WORDS) -> str:
    return " ".join(text.split()[:limit])


@dataclass
class Touched:
    entities: set[str] = field(default_factory=set)
    relationships: set[tuple[str, str]] = field(default_factory=set)


class GraphEdit:
    """The graph items one commit touches, read from the store's rows on first touch into a small
    networkx graph; :meth:`changes` gives the rows to write. Nothing is stored until the commit
    writes them, so a failure just drops the edit.
    """

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.graph = nx.Graph()  # only the touched items (and the ends of touched edges)
        self._loaded: set[Any] = set()
        self._touched: set[tuple[str, Any]] = set()

    def _load_node(self, key: str) -> None:
        if ("node", key) not in self._loaded:
            self._loaded.add(("node", key))
            for found, attrs in self.store.nodes([key]).items():
                self.graph.add_node(found, **attrs)

    def _load_edge(self, pair: tuple[str, str]) -> None:
        if ("edge", pair) not in self._loaded:
            self._loaded.add(("edge", pair))
            for end in pair:
                self._load_node(end)
            for found, attrs in self.store.edges([pair]).items():
                if found[0] in self.graph and found[1] in self.graph:
                    self.graph.add_edge(*found, **attrs)

    def has_node(self, key: str) -> bool:
        self._load_node(key)
        return key in self.graph

    def has_edge(self, pair: tuple[str, str]) -> bool:
        self._load_edge(pair)
        return self.graph.has_edge(*pair)

    def node(self, key: str, display: str) -> dict:
        self._touched.add(("node", key))
        if not self.has_node(key):
            self.graph.add_node(key, name=display, types={}, descriptions={}, excerpt_ids=[])
        return self.graph.nodes[key]

    def edge(self, pair: tuple[str, str]) -> dict:
        self._touched.add(("edge", pair))
        if not self.has_edge(pair):
            self.graph.add_edge(
                *pair, descriptions={}, keywords={}, weights={}, excerpt_ids=[], weight=0.0
            )
        return self.graph.edges[pair]

    def remove_node(self, key: str) -> None:
        """Remove ``key`` and every edge at it, stored or added in this edit."""
        for pair in self.store.incident(key):
            self._load_edge(pair)
        self._touched.add(("node", key))
        if key in self.graph:
            self._touched.update(("edge", tuple(sorted(e))) for e in self.graph.edges(key))
            self.graph.remove_node(key)

    def remove_edge(self, pair: tuple[str, str]) -> None:
        self._touched.add(("edge", pair))
        if self.has_edge(pair):
            self.graph.remove_edge(*pair)

    def touched(self) -> tuple[set[str], set[tuple[str, str]]]:
        """The nodes and edges this edit changed (added, updated or removed)."""
        return (
            {key for kind, key in self._touched if kind == "node"},
            {key for kind, key in self._touched if kind == "edge"},
        )

    def changes(self) -> tuple[dict[str, dict | None], dict[tuple[str, str], dict | None]]:
        """The rows to write: each touched item's attributes, or None where it was removed."""
        nodes, edges = self.touched()
        graph = self.graph
        return (
            {k: dict(graph.nodes[k]) if k in graph else None for k in nodes},
            {p: dict(graph.edges[p]) if graph.has_edge(*p) else None for p in edges},
        )


def _append_capped(bucket: dict[str, list], doc_id: str, value: str, cap: int) -> None:
    values = bucket.setdefault(doc_id, [])
    if value and value not in values:
        values.append(value)
        del values[:-cap]


def _count_type(node: dict, doc_id: str, entity_type: str, n: int) -> None:
    """Count a mention's type in the node's total and under the document that made it."""
    mine = node.setdefault("types_by_doc", {}).setdefault(doc_id, {})
    mine[entity_type] = mine.get(entity_type, 0) + n
    node["types"][entity_type] = node["types"].get(entity_type, 0) + n


def _uncount_types(node: dict, doc_id: str) -> None:
    """Take a document's type counts out (graphs from before ``types_by_doc`` keep their totals)."""
    by_doc = node.get("types_by_doc")
    if by_doc is None or by_doc.pop(doc_id, None) is None:
        return
    totals: dict[str, int] = {}
    for counts in by_doc.values():
        for entity_type, n in counts.items():
            totals[entity_type] = totals.get(entity_type, 0) + n
    node["types"] = totals


def merge_extraction(
    edit: GraphEdit,
    doc_id: str,
    excerpt_id: str,
    extraction: Extraction,
    description_cap: int,
    keywords_cap: int,
    touched: Touched,
) -> None:
    for entity in extraction.entities:
        key = node_key(entity.name)
        if not key:
            continue
        node = edit.node(key, entity.name)
        _count_type(node, doc_id, entity.type, 1)
        _append_capped(node["descriptions"], doc_id, entity.description, description_cap)
        if excerpt_id not in node["excerpt_ids"]:
            node["excerpt_ids"].append(excerpt_id)
        touched.entities.add(key)
    for rel in extraction.relationships:
        pair = edge_key(rel.source, rel.target)
        if not pair[0] or not pair[1] or pair[0] == pair[1]:
            continue
        for end, display in zip(pair, sorted((rel.source, rel.target), key=node_key), strict=True):
            node = edit.node(end, display)
            if excerpt_id not in node["excerpt_ids"]:
                node["excerpt_ids"].append(excerpt_id)
                _count_type(node, doc_id, "unknown", 0)
            touched.entities.add(end)
        edge = edit.edge(pair)
        _append_capped(edge["descriptions"], doc_id, rel.description, description_cap)
        for keyword in rel.keywords:
            _append_capped(edge["keywords"], doc_id, keyword, keywords_cap)
        edge["weights"][doc_id] = edge["weights"].get(doc_id, 0.0) + float(rel.weight)
        edge["weight"] = sum(edge["weights"].values())
        if excerpt_id not in edge["excerpt_ids"]:
            edge["excerpt_ids"].append(excerpt_id)
        touched.relationships.add(pair)


def remove_document(
    edit: GraphEdit, doc_id: str, entity_keys: list[str], pairs: list[tuple[str, str]]
) -> tuple[Touched, Touched]:
    """Take out what ``doc_id`` contributed. Returns (changed, removed) nodes and edges."""
    changed, removed = Touched(), Touched()
    prefix = doc_id + ":"
    for pair in pairs:
        if not edit.has_edge(pair):
            continue
        edge = edit.edge(pair)
        for bucket in ("descriptions", "keywords", "weights"):
            edge[bucket].pop(doc_id, None)
        edge["excerpt_ids"] = [e for e in edge["excerpt_ids"] if not e.startswith(prefix)]
        edge["weight"] = sum(edge["weights"].values())
        target = removed if not edge["excerpt_ids"] else changed
        if target is removed:
            edit.remove_edge(pair)
        target.relationships.add(pair)
    for key in entity_keys:
        if not edit.has_node(key):
            continue
        node = edit.node(key, key)
        node["descriptions"].pop(doc_id, None)
        _uncount_types(node, doc_id)
        node["excerpt_ids"] = [e for e in node["excerpt_ids"] if not e.startswith(prefix)]
        if not node["excerpt_ids"]:
            removed.relationships.update(edit.store.incident(key))
            removed.relationships.update(tuple(sorted(e)) for e in edit.graph.edges(key))
            edit.remove_node(key)
            removed.entities.add(key)
        else:
            changed.entities.add(key)
    return changed, removed


def entity_view(graph: Any, key: str, description_cap: int) -> dict[str, Any]:
    attrs = graph.nodes[key]
    types = Counter({t: c for t, c in attrs.get("types", {}).items() if t != "unknown"})
    descriptions = [d for values in attrs.get("descriptions", {}).values() for d in values]
    return {
        "key": key,
        "name": attrs.get("name", key),
        "type": types.most_common(1)[0][0] if types else "unknown",
        "description": " ".join(descriptions[-description_cap:]),
        "gist": _words(" ".join(descriptions)),
        "excerpt_ids": list(attrs.get("excerpt_ids", [])),
        "degree": int(graph.degree(key)),
    }


def relationship_view(
    graph: Any, pair: tuple[str, str], description_cap: int, keywords_cap: int
) -> dict[str, Any]:
    attrs = graph.edges[pair]
    descriptions = [d for values in attrs.get("descriptions", {}).values() for d in values]
    keywords = list(
        dict.fromkeys(k for values in attrs.get("keywords", {}).values() for k in values)
    )
    names = [graph.nodes[p].get("name", p) for p in pair]
    gist = _words(", ".join(keywords[:5]) + ". " + " ".join(descriptions))
    keywords = keywords[-keywords_cap:]
    return {
        "pair": pair,
        "source": names[0],
        "target": names[1],
        "description": " ".join(descriptions[-description_cap:]),
        "gist": gist,
        "keywords": keywords,
        "weight": float(attrs.get("weight", 0.0)),
        "excerpt_ids": list(attrs.get("excerpt_ids", [])),
        "rank": int(graph.degree(pair[0]) + graph.degree(pair[1])),
    }


def entity_text(view: dict[str, Any]) -> str:
    """What is embedded for an entity: its name and the gist of its earliest descriptions. Using the
    earliest (not the latest) keeps the text stable as mentions accrue, so it is embedded once.
    """
    return _words(f"{view['name']}: {view['gist']}")


def relationship_text(view: dict[str, Any]) -> str:
    return _words(f"{view['source']} - {view['target']}: {view['gist']}")
