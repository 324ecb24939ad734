"""The five retrieval modes: which excerpts, entities and relationships reach the context.

- ``standard``: excerpt vectors searched with the question;
- ``local_kg``: entity vectors searched with the low-level keywords, then the entities' excerpts
  (ordered by entity, then by how many of the entity's neighbours share the excerpt) and edges;
- ``global_kg``: relationship vectors searched with the high-level keywords, then their endpoints
  and excerpts;
- ``hybrid_kg``: both, de-duplicated, excerpts interleaved;
- ``mix``: ``hybrid_kg`` plus ``standard``; with ``mix_graph="rerank"`` the graph re-orders the
  ``standard`` list instead of only adding excerpts after it.
Every keyword is used (upstream embedded only the first of each list).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..index import Index
from ..ingest.graph_merge import entity_view, relationship_view
from ..providers.base import QueryKeywords
from ..settings import Settings
from . import graph_rank
from .bm25 import LexicalIndex
from .lexical import convex_fusion, reciprocal_rank_fusion

MODES = ("standard", "local_kg", "global_kg", "hybrid_kg", "mix")


@dataclass
class ExcerptHit:
    excerpt_id: str
    doc_id: str
    source: str
    text: str
    summary: str
    score: float
    origin: str  # "vector", "bm25", "vector+bm25" (fused), "entity" or "relationship"
    scores: dict[str, float] = field(default_factory=dict)  # by kind: cosine, bm25, rrf


@dataclass
class Retrieved:
    mode: str
    keywords: QueryKeywords | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    vector_excerpts: list[ExcerptHit] = field(default_factory=list)
    graph_excerpts: list[ExcerptHit] = field(default_factory=list)


def _excerpts(index: Index, scored_ids: list[tuple[str, float]], origin: str) -> list[ExcerptHit]:
    """Excerpt records for ids in order, first occurrence kept, ids no longer stored skipped."""
    unique = list(dict.fromkeys(i for i, _ in scored_ids))
    records = index.excerpts.get_many(unique)
    score: dict[str, float] = {}
    for excerpt_id, s in scored_ids:
        score.setdefault(excerpt_id, s)
    return [
        ExcerptHit(
            i,
            records[i]["doc_id"],
            records[i]["source"],
            records[i]["text"],
            records[i]["summary"],
            score[i],
            origin,
        )
        for i in unique
        if i in records
    ]


def fused_candidates(
    index: Index,
    query_vector: np.ndarray,
    s: Settings,
    question: str,
    lexical: LexicalIndex | None,
    depth: int,
) -> list[tuple[str, float]]:
    """The first ``depth`` excerpt ids with their scores: dense alone (``fusion="none"``, or without
    a lexical index), or dense and BM25 fused by ranks (``rrf``) or by normalised scores
    (``convex``).
    """
    return _candidate_scores(index, query_vector, s, question, lexical, depth)[0]


def _candidate_scores(
    index: Index,
    query_vector: np.ndarray,
    s: Settings,
    question: str,
    lexical: LexicalIndex | None,
    depth: int,
) -> tuple[list[tuple[str, float]], dict[str, float], dict[str, float]]:
    """:func:`fused_candidates` with each ranking's own scores (cosine, BM25) beside the fused
    ones.
    """
    if s.fusion == "none" or lexical is None:
        hits = index.excerpt_vectors.query(query_vector, depth, s.excerpt_threshold)
        return [(h.id, h.score) for h in hits], {h.id: h.score for h in hits}, {}
    dense = index.excerpt_vectors.query(query_vector, s.fusion_candidates, s.excerpt_threshold)
    bm25 = lexical.search(question, s.fusion_candidates)
    if s.fusion == "rrf":
        fused = reciprocal_rank_fusion([[h.id for h in dense], [i for i, _ in bm25]], s.rrf_k)
    else:
        fused = convex_fusion(
            [(h.id, h.score) for h in dense],
            bm25,
            s.fusion_dense_weight,
            s.fusion_norm,
            s.fusion_adaptive,
        )
    return fused[:depth], {h.id: h.score for h in dense}, dict(bm25)


def standard(
    index: Index,
    query_vector: np.ndarray,
    s: Settings,
    question: str = "",
    lexical: LexicalIndex | None = None,
) -> list[ExcerptHit]:
    """The top ``excerpt_top_k`` of :func:`fused_candidates`, each labelled with the rankings that
    found it and their own scores.
    """
    scored, cosine, bm25 = _candidate_scores(
        index, query_vector, s, question, lexical, s.excerpt_top_k
    )
    return _label_fused(_excerpts(index, scored, "vector"), cosine, bm25, s.fusion)


def graph_reranked(
    index: Index,
    graph: Any,
    mentions: Mapping[str, Iterable[str]],
    query_vector: np.ndarray,
    s: Settings,
    question: str,
    lexical: LexicalIndex | None,
    seeds: dict[str, float],
) -> list[ExcerptHit]:
    """``mix_graph="rerank"``: the fused candidates (all ``fusion_candidates`` of them) re-ordered
    by personalised PageRank from ``seeds`` (:func:`.graph_rank.rerank`), then cut to
    ``excerpt_top_k``. ``mentions`` (the entities each excerpt names) come from the query's own
    graph view, so the re-ranking reads the same version as the rest of the query.
    """
    depth = max(s.excerpt_top_k, s.fusion_candidates)
    scored, cosine, bm25 = _candidate_scores(index, query_vector, s, question, lexical, depth)
    ranked = graph_rank.rerank(scored, mentions, graph, seeds, s.graph_rerank_weight)
    hits = _excerpts(index, ranked[: s.excerpt_top_k], "vector")
    return _label_fused(hits, cosine, bm25, s.fusion)


def _label_fused(
    hits: list[ExcerptHit], cosine: dict[str, float], bm25: dict[str, float], fusion: str
) -> list[ExcerptHit]:
    """Each hit says which ranking found it and keeps each ranking's own score beside the fused
    one (cosine in [-1, 1], BM25 unbounded, RRF a sum of 1 / (k + rank), convex in [0, 1]).
    """
    for hit in hits:
        found_by = [
            kind
            for kind, scores in (("vector", cosine), ("bm25", bm25))
            if hit.excerpt_id in scores
        ]
        hit.origin = "+".join(found_by) or hit.origin
        hit.scores = {fusion: hit.score} if bm25 else {}
        hit.scores.update({"cosine": cosine[hit.excerpt_id]} if "vector" in found_by else {})
        hit.scores.update({"bm25": float(bm25[hit.excerpt_id])} if "bm25" in found_by else {})
    return hits


def _graph_hits(
    store: Any, vector: np.ndarray, top_k: int, threshold: float, pruned: bool
) -> list[Any]:
    """Vector hits for graph items; a pruned graph drops some, so twice as many are fetched."""
    return store.query(vector, top_k * (2 if pruned else 1), threshold)


def local_kg(
    index: Index,
    vector: np.ndarray,
    s: Settings,
    graph: Any,
    mentions: Mapping[str, Iterable[str]],
    pruned: bool = False,
) -> Retrieved:
    """Entities found by vector, their excerpts (ranked by how many of the entity's neighbours each
    also mentions: ``mentions`` is the graph's provenance inverted) and their relationships.
    """
    found: list[dict[str, Any]] = []
    for hit in _graph_hits(
        index.entity_vectors, vector, s.entity_top_k, s.entity_threshold, pruned
    ):
        key = hit.metadata.get("key")
        if key in graph and len(found) < s.entity_top_k:
            found.append({**entity_view(graph, key, s.description_cap), "score": hit.score})
    scored: list[tuple[str, float, int, int]] = []
    for order, entity in enumerate(found):
        # how many of the entity's neighbours each of its excerpts also mentions (more: more
        # central)
        neighbours = graph[entity["key"]]
        scored.extend(
            (
                excerpt_id,
                entity["score"],
                order,
                -sum(k in neighbours for k in mentions.get(excerpt_id, ())),
            )
            for excerpt_id in entity["excerpt_ids"]
        )
    scored.sort(key=lambda item: (item[2], item[3]))
    pairs = list(
        dict.fromkeys(tuple(sorted(e)) for entity in found for e in graph.edges(entity["key"]))
    )
    return Retrieved(
        "local_kg",
        entities=found,
        relationships=_ranked_relationships(graph, pairs, s),
        graph_excerpts=_excerpts(index, _first_unique(scored, s.graph_candidates), "entity"),
    )


def _ranked_relationships(
    graph: Any, pairs: list[tuple[str, str]], s: Settings
) -> list[dict[str, Any]]:
    """Relationships by (rank, weight), best first; only the first ``graph_candidates`` are built
    into views (the context's token budget keeps fewer), since a hub entity can have thousands of
    edges.
    """

    def key(pair: tuple[str, str]) -> tuple[int, float]:
        return graph.degree(pair[0]) + graph.degree(pair[1]), float(
            graph.edges[pair].get("weight", 0.0)
        )

    best = sorted(pairs, key=key, reverse=True)[: s.graph_candidates]
    return [relationship_view(graph, pr, s.description_cap, s.keywords_cap) for pr in best]


def _first_unique(scored: list[tuple], limit: int) -> list[tuple[str, float]]:
    """The first ``limit`` distinct excerpt ids of a ranked list, with their scores."""
    out: dict[str, float] = {}
    for item in scored:
        if len(out) >= limit:
            break
        out.setdefault(item[0], item[1])
    return list(out.items())


def global_kg(
    index: Index, vector: np.ndarray, s: Settings, graph: Any, pruned: bool = False
) -> Retrieved:
    relationships: list[dict[str, Any]] = []
    for hit in _graph_hits(
        index.relationship_vectors, vector, s.relationship_top_k, s.relationship_threshold, pruned
    ):
        pair = tuple(hit.metadata.get("pair", ()))
        if len(pair) == 2 and graph.has_edge(*pair) and len(relationships) < s.relationship_top_k:
            relationships.append(
                {
                    **relationship_view(graph, pair, s.description_cap, s.keywords_cap),
                    "score": hit.score,
                }
            )
    relationships.sort(key=lambda r: (r["rank"], r["weight"]), reverse=True)
    keys = list(dict.fromkeys(k for r in relationships for k in r["pair"]))
    entities = [entity_view(graph, k, s.description_cap) for k in keys if k in graph]
    scored = [(e, r["score"]) for r in relationships for e in r["excerpt_ids"]]
    return Retrieved(
        "global_kg",
        entities=entities,
        relationships=relationships,
        graph_excerpts=_excerpts(index, _first_unique(scored, s.graph_candidates), "relationship"),
    )


def hybrid_kg(local: Retrieved, global_: Retrieved) -> Retrieved:
    entities = _unique(local.entities + global_.entities, "key")
    relationships = _unique(local.relationships + global_.relationships, "pair")
    interleaved = [
        h
        for pair in itertools.zip_longest(local.graph_excerpts, global_.graph_excerpts)
        for h in pair
        if h is not None
    ]
    excerpts: dict[str, ExcerptHit] = {}
    for hit in interleaved:
        excerpts.setdefault(hit.excerpt_id, hit)  # first occurrence wins, in interleaved order
    return Retrieved(
        "hybrid_kg",
        entities=entities,
        relationships=relationships,
        graph_excerpts=list(excerpts.values()),
    )


def _unique(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: dict[Any, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(item[key], item)
    return list(seen.values())


def keyword_texts(keywords: QueryKeywords, question: str) -> tuple[str, str]:
    """(low-level text, high-level text) to embed; the question stands in for an empty list."""
    low = ", ".join(keywords.low_level) or question
    high = ", ".join(keywords.high_level) or question
    return low, high
