"""Merging extracted entities and relationships into the knowledge graph, and taking them out again.

Nodes are keyed by the case-folded entity name (so "SmolRAG", "Smolrag" and "SMOLRAG" merge) and
keep the first-seen spelling in ``name``. Everything a document contributes to an item is a row of
its own (descriptions, keywords, weight, type counts, citing excerpts; see ``stores/graph.py``),
so deleting a document removes exactly what it added, and merging one costs what it holds;
upstream left deleted documents' descriptions and weights behind. Caps apply per document as it
merges, and again when a node or edge is read: the last ``description_cap`` descriptions, the last
``keywords_cap`` keywords; weights sum.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..providers.base import Extraction
from ..stores.base import GraphStore
from ..stores.graph import (
    Contribution,
    GraphWrite,
    Item,
    edge_item,
    empty_contribution,
    node_item,
)


def node_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def edge_key(a: str, b: str) -> tuple[str, str]:
    return tuple(sorted((node_key(a), node_key(b))))  # type: ignore[return-value]


def entity_id(key: str) -> str:
    return "ent-" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def relationship_id(pair: tuple[str, str]) -> str:
    return "rel-" + hashlib.sha1("\x1f".join(pair).encode("utf-8")).hexdigest()[:20]


def _words(text: str, limit: int) -> str:
    return " ".join(text.split()[:limit])


def _latest(by_doc: dict[str, list[str]], cap: int) -> list[str]:
    """The last ``cap`` values of the documents' lists taken in order, reading only the newest
    documents' lists (a popular item has thousands).
    """
    latest: list[str] = []
    for values in reversed(by_doc.values()):
        latest[:0] = values
        if len(latest) >= cap:
            break
    return latest[-cap:]


def _earliest_words(head: list[str], by_doc: dict[str, list[str]], limit: int) -> str:
    """The first ``limit`` words of ``head`` followed by the documents' values in order, reading no
    further than needed.
    """
    words = head[:limit]
    for values in by_doc.values():
        for value in values:
            if len(words) >= limit:
                return " ".join(words[:limit])
            words += value.split()
    return " ".join(words[:limit])


@dataclass
class Touched:
    entities: set[str] = field(default_factory=set)
    relationships: set[tuple[str, str]] = field(default_factory=set)


class GraphEdit:
    """The graph rows one commit changes: which items exist (read from the store on first touch)
    and the contributions of the documents it merges or takes out (each read on first touch: one
    document's row per item). Nothing is stored until the commit writes :meth:`changes`, so a
    failure just drops the edit, and an edit costs what its documents hold, not what the items they
    touch have accumulated from others.
    """

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self._stored: dict[Item, bool] = {}  # whether the store has the item
        self._exists: dict[Item, bool] = {}  # whether it exists after this edit
        self._docs: dict[Item, dict[str, None]] = defaultdict(dict)  # documents touched here
        self._values: dict[Contribution, dict[str, Any] | None] = {}
        self._cited: dict[Contribution, set[str]] = {}
        self._made_edges: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self._write = GraphWrite()

    def exists(self, item: Item) -> bool:
        if item not in self._exists:
            self._exists[item] = self._in_store(item)
        return self._exists[item]

    def _in_store(self, item: Item) -> bool:
        if item not in self._stored:
            kind, a, b = item
            found = self.store.nodes([a]) if kind == "n" else self.store.edges([(a, b)])
            self._stored[item] = bool(found)
        return self._stored[item]

    def _load(self, contribution: Contribution) -> dict[str, Any] | None:
        if contribution not in self._values:
            item, doc_id = contribution[:3], contribution[3]
            stored = self._in_store(item) and item not in self._write.removed
            self._values[contribution] = self.store.contribution(item, doc_id) if stored else None
        return self._values[contribution]

    def contribution(self, item: Item, doc_id: str, name: str = "") -> dict[str, Any]:
        """Document ``doc_id``'s contribution to ``item``, to change in place (made, with the item,
        if new).
        """
        if not self.exists(item):
            self._exists[item] = True
            self._write.created[item] = {"name": name or item[1]} if item[0] == "n" else {}
            if item[0] == "e":
                for end in item[1:]:
                    self._made_edges[end].add((item[1], item[2]))
        key: Contribution = (*item, doc_id)
        values = self._load(key)
        if values is None:
            values = self._values[key] = empty_contribution(item[0])
        self._write.contributions[key] = values
        self._docs[item][doc_id] = None
        return values

    def cite(self, item: Item, doc_id: str, excerpt_id: str) -> None:
        """Record that ``excerpt_id`` (of ``doc_id``) cites ``item``."""
        key: Contribution = (*item, doc_id)
        values = self.contribution(item, doc_id)
        cited = self._cited.setdefault(key, set(values["excerpt_ids"]))
        if excerpt_id not in cited:
            cited.add(excerpt_id)
            values["excerpt_ids"].append(excerpt_id)

    def drop(self, item: Item, doc_id: str) -> None:
        """Take document ``doc_id``'s contribution to ``item`` out."""
        key: Contribution = (*item, doc_id)
        if self._load(key) is not None or key in self._write.contributions:
            self._write.contributions[key] = None
        self._values[key] = None
        self._docs[item][doc_id] = None

    def contributed_by_others(self, item: Item, doc_id: str) -> bool:
        """Whether, after this edit so far, a document but ``doc_id`` contributes to ``item``."""
        touched = self._docs.get(item, {})
        if any(d != doc_id and self._values.get((*item, d)) for d in touched):
            return True
        if not self._in_store(item) or item in self._write.removed:
            return False
        # documents touched here are settled above; a full answer holds an untouched one
        others = self.store.contributors(item, doc_id, len(touched) + 1)
        return any(d not in touched for d in others)

    def remove(self, item: Item) -> list[tuple[str, str]]:
        """Remove ``item`` with every contribution to it (a node: and every edge at it); returns
        the edges removed.
        """
        kind, a, _ = item
        edges: list[tuple[str, str]] = []
        if kind == "n":
            for pair in dict.fromkeys([*self.store.incident(a), *sorted(self._made_edges[a])]):
                if self.exists(("e", *pair)):
                    edges += self.remove(("e", *pair))
        self._exists[item] = False
        self._write.created.pop(item, None)
        self._write.removed.add(item)
        for doc_id in self._docs.pop(item, {}):
            self._write.contributions.pop((*item, doc_id), None)
            self._values[(*item, doc_id)] = None
        return [*edges, (item[1], item[2])] if kind == "e" else edges

    def changes(self) -> GraphWrite:
        """The rows to write."""
        return self._write


def _append_capped(values: list[str], value: str, cap: int) -> None:
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
        node = edit.contribution(node_item(key), doc_id, entity.name)
        node["types"][entity.type] = node["types"].get(entity.type, 0) + 1
        _append_capped(node["descriptions"], entity.description, description_cap)
        edit.cite(node_item(key), doc_id, excerpt_id)
        touched.entities.add(key)
    for rel in extraction.relationships:
        pair = edge_key(rel.source, rel.target)
        if not pair[0] or not pair[1] or pair[0] == pair[1]:
            continue
        for end, display in zip(pair, sorted((rel.source, rel.target), key=node_key), strict=True):
            edit.contribution(node_item(end), doc_id, display)
            edit.cite(node_item(end), doc_id, excerpt_id)
            touched.entities.add(end)
        edge = edit.contribution(edge_item(pair), doc_id)
        _append_capped(edge["descriptions"], rel.description, description_cap)
        for keyword in rel.keywords:
            _append_capped(edge["keywords"], keyword, keywords_cap)
        edge["weight"] += float(rel.weight)
        edit.cite(edge_item(pair), doc_id, excerpt_id)
        touched.relationships.add(pair)


def remove_document(
    edit: GraphEdit, doc_id: str, entity_keys: list[str], pairs: list[tuple[str, str]]
) -> tuple[Touched, Touched]:
    """Take out what ``doc_id`` contributed; an item nobody else contributes to goes. Returns
    (changed, removed) nodes and edges.
    """
    changed, removed = Touched(), Touched()
    for pair in pairs:
        item = edge_item(pair)
        if edit.exists(item):
            edit.drop(item, doc_id)
            if edit.contributed_by_others(item, doc_id):
                changed.relationships.add((item[1], item[2]))
            else:
                removed.relationships.update(edit.remove(item))
    for key in entity_keys:
        item = node_item(key)
        if edit.exists(item):
            edit.drop(item, doc_id)
            if edit.contributed_by_others(item, doc_id):
                changed.entities.add(key)
            else:
                removed.relationships.update(edit.remove(item))
                removed.entities.add(key)
    return changed, removed


def entity_view(graph: Any, key: str, description_cap: int) -> dict[str, Any]:
    attrs = graph.nodes[key]
    types = Counter({t: c for t, c in attrs.get("types", {}).items() if t != "unknown"})
    descriptions = attrs.get("descriptions", {})
    return {
        "key": key,
        "name": attrs.get("name", key),
        "type": types.most_common(1)[0][0] if types else "unknown",
        "description": " ".join(_latest(descriptions, description_cap)),
        "excerpt_ids": list(attrs.get("excerpt_ids", [])),
        "degree": int(graph.degree(key)),
    }


def relationship_view(
    graph: Any, pair: tuple[str, str], description_cap: int, keywords_cap: int
) -> dict[str, Any]:
    attrs = graph.edges[pair]
    descriptions = attrs.get("descriptions", {})
    names = [graph.nodes[p].get("name", p) for p in pair]
    return {
        "pair": pair,
        "source": names[0],
        "target": names[1],
        "description": " ".join(_latest(descriptions, description_cap)),
        "keywords": _keywords(attrs)[-keywords_cap:],
        "weight": float(attrs.get("weight", 0.0)),
        "excerpt_ids": list(attrs.get("excerpt_ids", [])),
        "rank": int(graph.degree(pair[0]) + graph.degree(pair[1])),
    }


def _keywords(attrs: dict[str, Any]) -> list[str]:
    """A relationship's keywords in contribution order, each once."""
    return list(dict.fromkeys(k for values in attrs.get("keywords", {}).values() for k in values))


def entity_text(graph: Any, key: str, words: int) -> str:
    """What is embedded for an entity: its name and the start of its earliest descriptions, cut at
    ``words`` (the index setting ``entity_embed_words``). The earliest, not the latest, keep the
    text stable as mentions accrue, so an entity is embedded once.
    """
    attrs = graph.nodes[key]
    gist = _earliest_words([], attrs.get("descriptions", {}), words)
    return _words(f"{attrs.get('name', key)}: {gist}", words)


def relationship_text(graph: Any, pair: tuple[str, str], words: int) -> str:
    """What is embedded for a relationship: both names, its first keywords, then its earliest
    descriptions, cut at ``words`` (``relationship_embed_words``). Relationships outnumber entities
    about two to one and are most of the graph's word pieces, so their cut is the shorter.
    """
    attrs = graph.edges[pair]
    source, target = (graph.nodes[p].get("name", p) for p in pair)
    head = (", ".join(_keywords(attrs)[:5]) + ".").split()
    gist = _earliest_words(head, attrs.get("descriptions", {}), words)
    return _words(f"{source} - {target}: {gist}", words)
