"""Merging extracted entities and relationships into the knowledge graph, and taking them out again.

Nodes are keyed by the case-folded entity name (so "SmolRAG", "Smolrag" and "SMOLRAG" merge) and
keep the first-seen spelling in ``name``. Everything a document contributes is stored under its id
(descriptions, keywords, weights, types), so deleting a document removes exactly what it added;
upstream left deleted documents' descriptions and weights behind. Caps apply when a node or edge is
read: the last ``description_cap`` descriptions, the last ``keywords_cap`` keywords; weights sum.
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..providers.base import Extraction
from ..stores.graph import NetworkXGraphStore


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
    """Records the prior state of every node and edge it touches, so a failure can undo them all."""

    def __init__(self, store: NetworkXGraphStore) -> None:
        self.graph = store.graph
        self._saved: dict[tuple, Any] = {}

    def _remember(self, kind: str, key: Any) -> None:
        if (kind, key) in self._saved:
            return
        if kind == "node":
            self._saved[(kind, key)] = (
                copy.deepcopy(dict(self.graph.nodes[key])) if key in self.graph else None
            )
        else:
            attrs = self.graph.edges[key] if self.graph.has_edge(*key) else None
            self._saved[(kind, key)] = copy.deepcopy(dict(attrs)) if attrs is not None else None

    def node(self, key: str, display: str) -> dict:
        self._remember("node", key)
        if key not in self.graph:
            self.graph.add_node(key, name=display, types={}, descriptions={}, excerpt_ids=[])
        return self.graph.nodes[key]

    def edge(self, pair: tuple[str, str]) -> dict:
        self._remember("edge", pair)
        if not self.graph.has_edge(*pair):
            self.graph.add_edge(
                *pair, descriptions={}, keywords={}, weights={}, excerpt_ids=[], weight=0.0
            )
        return self.graph.edges[pair]

    def remove_node(self, key: str) -> None:
        self._remember("node", key)
        for pair in [tuple(sorted(e)) for e in self.graph.edges(key)]:
            self._remember("edge", pair)
        self.graph.remove_node(key)

    def remove_edge(self, pair: tuple[str, str]) -> None:
        self._remember("edge", pair)
        self.graph.remove_edge(*pair)

    def touched(self) -> tuple[set[str], set[tuple[str, str]]]:
        """The nodes and edges this edit changed (added, updated or removed)."""
        return (
            {key for kind, key in self._saved if kind == "node"},
            {key for kind, key in self._saved if kind == "edge"},
        )

    def rollback(self) -> None:
        for (kind, key), attrs in self._saved.items():
            if kind == "node":
                if key in self.graph:
                    self.graph.remove_node(key)
                if attrs is not None:
                    self.graph.add_node(key, **attrs)
        for (kind, key), attrs in self._saved.items():
            if kind == "edge":
                if self.graph.has_edge(*key):
                    self.graph.remove_edge(*key)
                if attrs is not None and key[0] in self.graph and key[1] in self.graph:
                    self.graph.add_edge(*key, **attrs)


def _append_capped(bucket: dict[str, list], doc_id: str, value: str, cap: int) -> None:
    values = bucket.setdefault(doc_id, [])
    if value and value not in values:
        values.append(value)
        del values[:-cap]


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
        node["types"][entity.type] = node["types"].get(entity.type, 0) + 1
        _append_capped(node["descriptions"], doc_id, entity.description, description_cap)
        if excerpt_id not in node["excerpt_ids"]:
            node["excerpt_ids"].append(excerpt_id)
        touched.entities.add(key)
    for rel in extraction.relationships:
        pair = edge_key(rel.source, rel.target)
        if not pair[0] or not pair[1] or pair[0] == pair[1]:
            continue
        for end, display in zip(pair, sorted((rel.source, rel.target), key=node_key)):
            node = edit.node(end, display)
            if excerpt_id not in node["excerpt_ids"]:
                node["excerpt_ids"].append(excerpt_id)
                node["types"].setdefault("unknown", 0)
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
    graph = edit.graph
    for pair in pairs:
        if not graph.has_edge(*pair):
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
        if key not in graph:
            continue
        node = edit.node(key, key)
        node["descriptions"].pop(doc_id, None)
        node["excerpt_ids"] = [e for e in node["excerpt_ids"] if not e.startswith(prefix)]
        if not node["excerpt_ids"]:
            removed.relationships.update(tuple(sorted(e)) for e in graph.edges(key))
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
