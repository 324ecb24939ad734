"""Consistency of one data directory, and repair of whatever can be derived again.

The records (documents, sources, excerpts, extractions) and the graph rows commit per document in
one transaction; the graph must still agree with the stored extractions (every recorded entity and
relationship present with its excerpt, no contribution of a document that is gone), and ``repair``
restores it from them. The vectors are derived (excerpt vectors from excerpt + summary, or the
excerpt alone with ``embed_summary`` off; entity /
relationship vectors from the graph) and can lag behind after an interrupted run. ``check`` lists
every disagreement; ``repair`` re-derives the lagging parts: no model call but embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..aio import run_sync
from ..index import Index
from ..providers.base import Embedder, EntityRecord, Extraction, RelationshipRecord
from ..settings import Settings
from ..text import excerpt_search_text
from .graph_merge import (
    GraphEdit,
    Touched,
    edge_key,
    entity_id,
    entity_text,
    merge_extraction,
    node_key,
    relationship_id,
    relationship_text,
)

EXAMPLES = 5  # ids shown per problem
GRAPH_KINDS = ("entities citing", "relationships citing", "recorded ", "graph contributions")


@dataclass
class CheckReport:
    problems: dict[str, list[str]] = field(
        default_factory=dict
    )  # kind -> offending ids (first few)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> how many
    interrupted: bool = False  # a writer stopped mid-run
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.counts and not self.interrupted

    def add(self, kind: str, ids: list[str] | set) -> None:
        ids = sorted(map(str, ids))
        if ids:
            self.problems[kind], self.counts[kind] = ids[:EXAMPLES], len(ids)

    def summary(self) -> str:
        if self.ok:
            return "consistent"
        lines = [
            f"{kind}: {n} (e.g. {', '.join(self.problems[kind])})"
            for kind, n in self.counts.items()
        ]
        if self.interrupted:
            lines.insert(0, "an ingestion or deletion was interrupted")
        return "\n".join(lines)


def check(index: Index, settings: Settings) -> CheckReport:
    started, report = time.perf_counter(), CheckReport()
    report.interrupted = bool(index.meta.get("writing"))
    documents = dict(index.documents.items())
    excerpt_ids = set(index.excerpts.keys())
    listed = {e for d in documents.values() for e in d.get("excerpt_ids", [])}
    report.add("excerpts without a document", excerpt_ids - listed)
    report.add("document excerpts missing", listed - excerpt_ids)
    report.add("excerpts without stored extraction", excerpt_ids - set(index.extractions.keys()))
    sources = dict(index.sources.items())
    report.add(
        "sources pointing at no document", {s for s, d in sources.items() if d not in documents}
    )
    report.add(
        "documents without a source entry",
        {d for d, r in documents.items() if sources.get(r["source"]) != d},
    )
    vector_ids = set(index.excerpt_vectors.ids())
    report.add("excerpt vectors without excerpt", vector_ids - excerpt_ids)
    report.add("excerpts without vector", excerpt_ids - vector_ids)
    _check_graph(index, excerpt_ids, report)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _check_graph(index: Index, excerpt_ids: set[str], report: CheckReport) -> None:
    graph = index.graph_view().graph
    _check_extractions(index, graph, report)
    report.add(
        "entities citing missing excerpts",
        {k for k, a in graph.nodes(data=True) if set(a.get("excerpt_ids", [])) - excerpt_ids},
    )
    report.add(
        "relationships citing missing excerpts",
        {
            f"{a}|{b}"
            for a, b, d in graph.edges(data=True)
            if set(d.get("excerpt_ids", [])) - excerpt_ids
        },
    )
    expected_entities = {entity_id(k) for k in graph.nodes}
    expected_relationships = {relationship_id(_pair(p)) for p in graph.edges}
    for name, store, expected in (
        ("entity", index.entity_vectors, expected_entities),
        ("relationship", index.relationship_vectors, expected_relationships),
    ):
        stored = set(store.ids())
        report.add(f"{name} vectors without graph item", stored - expected)
        report.add(f"{name} graph items without vector", expected - stored)


def _check_extractions(index: Index, graph: Any, report: CheckReport) -> None:
    """Every stored extraction's entities and relationships are in the graph citing their excerpt;
    no graph item keeps a contribution of a document that is no longer recorded.
    """
    missing_entities, missing_relationships = set(), set()
    for excerpt_id, stored in index.extractions.items():
        extraction = extraction_from_dict(stored)
        for entity in extraction.entities:
            key = node_key(entity.name)
            if key and excerpt_id not in graph.nodes.get(key, {}).get("excerpt_ids", ()):
                missing_entities.add(f"{excerpt_id}: {key}")
        for rel in extraction.relationships:
            pair = edge_key(rel.source, rel.target)
            if not pair[0] or not pair[1] or pair[0] == pair[1]:
                continue
            attrs = graph.edges[pair] if graph.has_edge(*pair) else {}
            if excerpt_id not in attrs.get("excerpt_ids", ()):
                missing_relationships.add(f"{excerpt_id}: {pair[0]}|{pair[1]}")
    report.add("recorded entities missing from the graph", missing_entities)
    report.add("recorded relationships missing from the graph", missing_relationships)
    documents = set(index.documents.keys())
    report.add(
        "graph contributions of documents that are gone",
        {f"{k}: {d}" for k, a in graph.nodes(data=True) for d in _contributors(a) - documents}
        | {
            f"{u}|{v}: {d}"
            for u, v, a in graph.edges(data=True)
            for d in _contributors(a) - documents
        },
    )


def _contributors(attrs: dict[str, Any]) -> set[str]:
    """The documents an item's attributes hold a contribution of."""
    found = set(attrs.get("excerpts_by_doc", {}))
    for bucket in ("descriptions", "keywords", "weights", "types_by_doc"):
        found.update(attrs.get(bucket, {}))
    return found


def _pair(edge: tuple[str, str]) -> tuple[str, str]:
    """Networkx yields an edge's ends in either order; the stores key it by the sorted pair."""
    return tuple(sorted(edge))  # type: ignore[return-value]


def repair(index: Index, settings: Settings, embedder: Embedder) -> dict[str, int]:
    """Bring every derived store in line with the records; returns what was done, by kind."""
    done: dict[str, int] = {}
    before = check(index, settings)
    if any(kind.startswith(GRAPH_KINDS) for kind in before.counts):
        done["graph documents re-merged"] = rebuild_graph(index, settings)
    excerpts = dict(index.excerpts.items())
    orphans = set(index.excerpt_vectors.ids()) - set(excerpts)
    done["excerpt vectors deleted"] = (
        index.excerpt_vectors.delete(sorted(orphans)) if orphans else 0
    )
    missing = sorted(set(excerpts) - set(index.excerpt_vectors.ids()))
    if missing:
        texts = [
            excerpt_search_text(excerpts[i]["text"], excerpts[i]["summary"], settings.embed_summary)
            for i in missing
        ]
        index.excerpt_vectors.upsert(
            missing,
            run_sync(embedder.aembed(texts)),
            [{"doc_id": excerpts[i]["doc_id"]} for i in missing],
        )
    done["excerpt vectors embedded"] = len(missing)
    done.update(_sync_graph_vectors(index, settings, embedder))
    if any(done.values()):
        index.bump_version()  # cached answers built from the lagging vectors no longer apply
    index.meta.delete(["writing"])
    return {k: v for k, v in done.items() if v}


@dataclass
class GraphVectorPlan:
    """What bringing some graph items' vectors in line with the graph takes: per store, the ids of
    items gone from the graph, and the (metadata, text) of items whose text changed or is new.
    """

    gone: dict[str, list[str]] = field(default_factory=dict)
    stale: dict[str, dict[str, tuple[dict, str]]] = field(default_factory=dict)

    def texts(self) -> list[str]:
        return [text for items in self.stale.values() for _, text in items.values()]


def plan_graph_vectors(
    index: Index, settings: Settings, keys: Iterable[str], pairs: Iterable[tuple[str, str]]
) -> GraphVectorPlan:
    from .report import content_hash

    graph, s, plan = index.graph_view().graph, settings, GraphVectorPlan()
    keys, pairs = sorted(set(keys)), sorted(set(map(_pair, pairs)))
    wanted: dict[str, tuple[list[str], dict[str, tuple[dict[str, Any], str]]]] = {
        "entity": (
            [entity_id(k) for k in keys if k not in graph],
            {
                entity_id(k): ({"key": k}, entity_text(graph, k, s.entity_embed_words))
                for k in keys
                if k in graph
            },
        ),
        "relationship": (
            [relationship_id(p) for p in pairs if not graph.has_edge(*p)],
            {
                relationship_id(p): (
                    {"pair": list(p)},
                    relationship_text(graph, p, s.relationship_embed_words),
                )
                for p in pairs
                if graph.has_edge(*p)
            },
        ),
    }
    for name, (gone, items) in wanted.items():
        stored = _graph_store(index, name).get_metadata(list(items))
        plan.gone[name] = gone
        plan.stale[name] = {
            i: v
            for i, v in items.items()
            if stored.get(i, {}).get("text_hash") != content_hash(v[1])
        }
    return plan


def apply_graph_vectors(index: Index, plan: GraphVectorPlan, vectors: np.ndarray) -> dict[str, int]:
    from .report import content_hash

    done, start = {}, 0
    for name, items in plan.stale.items():
        store = _graph_store(index, name)
        done[f"{name} vectors deleted"] = store.delete(plan.gone[name]) if plan.gone[name] else 0
        if items:
            store.upsert(
                list(items),
                vectors[start : start + len(items)],
                [{**meta, "text_hash": content_hash(text)} for meta, text in items.values()],
            )
        done[f"{name} vectors embedded"] = len(items)
        start += len(items)
    return done


def _graph_store(index: Index, name: str) -> Any:
    return index.entity_vectors if name == "entity" else index.relationship_vectors


async def sync_graph_vectors(
    index: Index,
    settings: Settings,
    embedder: Embedder,
    keys: Iterable[str],
    pairs: Iterable[tuple[str, str]],
) -> dict[str, int]:
    """For the given entities and relationships: drop the vectors of those no longer in the graph
    and embed those whose text changed (or that have no vector). Shared by ingestion and repair.
    """
    plan = plan_graph_vectors(index, settings, keys, pairs)
    texts = plan.texts()
    vectors = (
        await embedder.aembed(texts)
        if texts
        else np.zeros((0, index.entity_vectors.dim), dtype=np.float32)
    )
    return apply_graph_vectors(index, plan, vectors)


def _sync_graph_vectors(index: Index, settings: Settings, embedder: Embedder) -> dict[str, int]:
    """Every graph item's vector in line with the graph; vectors of items not in it deleted."""
    graph = index.graph_view().graph
    expected = (
        {entity_id(k) for k in graph.nodes},
        {relationship_id(_pair(p)) for p in graph.edges},
    )
    orphans = 0
    for store, ids in zip(
        (index.entity_vectors, index.relationship_vectors), expected, strict=True
    ):
        gone = sorted(set(store.ids()) - ids)
        orphans += store.delete(gone) if gone else 0
    done = run_sync(sync_graph_vectors(index, settings, embedder, graph.nodes, graph.edges))
    done["graph vectors without graph item deleted"] = orphans
    return done


def extraction_from_dict(data: dict) -> Extraction:
    return Extraction(
        [EntityRecord(**e) for e in data.get("entities", [])],
        [RelationshipRecord(**r) for r in data.get("relationships", [])],
        list(data.get("content_keywords", [])),
    )


def rebuild_graph(index: Index, settings: Settings) -> int:
    """Re-derive the graph from the stored extractions (no model calls); returns the documents
    merged.
    """
    records = sorted((r for _, r in index.documents.items()), key=lambda r: r.get("ingested_at", 0))
    with index.db.transaction():
        index.bump_version()
        index.graph.clear(index.version)
        edit, touched = GraphEdit(index.graph), Touched()
        _merge_records(index, settings, edit, touched, records)
        index.write_graph(edit.changes())
    return len(records)


def _merge_records(
    index: Index, settings: Settings, edit: GraphEdit, touched: Touched, records: list[dict]
) -> None:
    for record in records:
        stored = index.extractions.get_many(record["excerpt_ids"])
        for excerpt_id in record["excerpt_ids"]:
            if excerpt_id in stored:
                merge_extraction(
                    edit,
                    record["doc_id"],
                    excerpt_id,
                    extraction_from_dict(stored[excerpt_id]),
                    settings.description_cap,
                    settings.keywords_cap,
                    touched,
                )
