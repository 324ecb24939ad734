"""Query overhead at scale: the time a query spends outside the embedder and the completion calls
(vector and graph search, graph expansion, BM25 fusion, context building), per mode, on an index of
100,000 excerpts with the knowledge graph that comes with them.

usage: python -m benchmarks.query_overhead [--excerpts 100000] [--dir DIR] [--out FILE]
The index is synthetic but built through the engine's own stores and graph merge: 1,000 documents of
100 excerpts, each excerpt with 3 entities from a 40,000-name vocabulary (Zipf-distributed, as real
entity mentions are) and 2 relationships; vectors are embedding-like (topic centres plus noise).
Overhead = retrieval time - query embedding - keyword extraction, from the engine's own timings.
Then what a reader pays after another commit: the graph view's refresh for graph-only commits, and
for commits of whole documents the refresh of the view and of BM25 and each mode's first query.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.index import Index
from smolrag_lab.ingest.graph_merge import (
    GraphEdit,
    Touched,
    entity_id,
    merge_extraction,
    relationship_id,
    remove_document,
)
from smolrag_lab.providers.base import EntityRecord, Extraction, RelationshipRecord
from smolrag_lab.stores.graph import GraphView

PER_DOC, VOCABULARY, DIM = 100, 40_000, 384
ROUNDS_AFTER_COMMIT = 5
CAPS = (Settings().description_cap, Settings().keywords_cap)  # as ingestion merges
WORDS = [
    "cache",
    "graph",
    "vector",
    "store",
    "query",
    "index",
    "chunk",
    "excerpt",
    "summary",
    "entity",
    "relation",
    "keyword",
    "token",
    "budget",
    "embedding",
    "model",
    "latency",
    "memory",
    "disk",
    "batch",
    "stream",
    "shard",
    "replica",
    "router",
    "gateway",
]


def _vectors(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    return (
        centres[rng.integers(0, len(centres), n)]
        + 0.6 * rng.standard_normal((n, DIM)) / np.sqrt(DIM)
    ).astype(np.float32)


def _excerpt(rng: np.random.Generator, names: list[str]) -> str:
    body = " ".join(rng.choice(WORDS, 40))
    return f"{names[0]} works with {names[1]} and {names[2]}. {body}."


def _merge_document(
    edit: GraphEdit, doc_id: str, mentions: np.ndarray, rng: np.random.Generator
) -> tuple[list[str], dict[str, dict]]:
    """Merge one synthetic document's extractions (a row of 3 vocabulary indices per excerpt) into
    ``edit``, as ingestion does; its excerpt ids and records.
    """
    ids, records, touched = [], {}, Touched()
    for i, row in enumerate(mentions):
        names = [f"Component{j}" for j in row]
        text, eid = _excerpt(rng, names), f"{doc_id}:{i:04d}"
        extraction = Extraction(
            [EntityRecord(x, "component", f"{x} appears in {eid}.") for x in names],
            [
                RelationshipRecord(
                    names[0],
                    names[k],
                    f"{names[0]} uses {names[k]}.",
                    [str(rng.choice(WORDS))],
                    1.0,
                )
                for k in (1, 2)
            ],
        )
        merge_extraction(edit, doc_id, eid, extraction, *CAPS, touched)
        records[eid] = {
            "doc_id": doc_id,
            "source": f"/synthetic/{doc_id}.md",
            "index": i,
            "text": text,
            "summary": f"From synthetic document {doc_id}.",
            "tokens": 60,
        }
        ids.append(eid)
    return ids, records


def _mentions(rng: np.random.Generator, excerpts: int) -> np.ndarray:
    """Three entity mentions per excerpt, Zipf-distributed over the vocabulary."""
    return np.minimum(rng.zipf(1.3, size=(excerpts, 3)) - 1, VOCABULARY - 1)


def _document(doc_id: str, excerpt_ids: list[str]) -> dict:
    return {
        "doc_id": doc_id,
        "source": f"/synthetic/{doc_id}.md",
        "hash": doc_id,
        "excerpt_ids": excerpt_ids,
        "entity_keys": [],
        "relationship_pairs": [],
    }


def build(data_dir: Path, excerpts: int) -> float:
    """Write documents, excerpts, extractions, vectors and the graph straight into the stores."""
    started, rng = time.perf_counter(), np.random.default_rng(0)
    centres = rng.standard_normal((500, DIM)).astype(np.float32) / np.sqrt(DIM)
    index = Index(data_dir, DIM)
    mentions = _mentions(rng, excerpts)
    edit = GraphEdit(index.graph)
    for doc in range(excerpts // PER_DOC):
        doc_id = f"doc-{doc:05d}"
        ids, records = _merge_document(edit, doc_id, mentions[doc * PER_DOC :][:PER_DOC], rng)
        with index.db.transaction():
            index.excerpts.set_many(records)
            index.documents.set(doc_id, _document(doc_id, ids))
            index.sources.set(f"/synthetic/{doc_id}.md", doc_id)
        index.excerpt_vectors.upsert(
            ids, _vectors(rng, len(ids), centres), [{"doc_id": doc_id}] * len(ids)
        )
    with index.db.transaction():
        index.bump_version()
        index.write_graph(edit.changes())
    graph = index.graph_view().graph
    keys = sorted(graph.nodes)
    index.entity_vectors.upsert(
        [entity_id(k) for k in keys], _vectors(rng, len(keys), centres), [{"key": k} for k in keys]
    )
    pairs = sorted(tuple(sorted(p)) for p in graph.edges)
    index.relationship_vectors.upsert(
        [relationship_id(p) for p in pairs],
        _vectors(rng, len(pairs), centres),
        [{"pair": list(p)} for p in pairs],
    )
    index.bump_version()
    index.close()
    return time.perf_counter() - started


def measure(data_dir: Path, queries: int) -> dict:
    settings = Settings(data_dir=data_dir, query_cache=False, log_to_file=False)
    questions = [
        f"How does Component{i} work with the "
        f"{WORDS[i % len(WORDS)]} {WORDS[(3 * i) % len(WORDS)]}?"
        for i in range(queries)
    ]
    out = {}
    with SmolRag(settings) as rag:
        for mode in ("standard", "local_kg", "global_kg", "hybrid_kg", "mix"):
            rag.retrieve(questions[0], mode)  # warm: BM25 index, caches, page-in
            overheads, totals = [], []
            for question in questions:
                t = rag.retrieve(question, mode).timings_ms
                overheads.append(t["retrieval_ms"] - t.get("embed_ms", 0) - t.get("keywords_ms", 0))
                totals.append(t["retrieval_ms"])
            out[mode] = {
                "overhead_ms_p50": round(statistics.median(overheads), 2),
                "overhead_ms_p95": round(float(np.percentile(overheads, 95)), 2),
                "retrieval_ms_p50": round(statistics.median(totals), 2),
            }
        out["graph_view"] = view = refresh_cost(rag)
        view["share_of_retrieval_p50"] = {
            commit: {
                mode: round(view[commit]["refresh_ms_p50"] / out[mode]["retrieval_ms_p50"], 3)
                for mode in ("local_kg", "global_kg", "hybrid_kg", "mix")
            }
            for commit in ("new_document", "popular_items")
        }
        out["after_document_commit"] = after_document_commit(rag, questions, out)
        out["index"] = {
            "excerpts": len(rag.index.excerpts),
            "entities": rag.index.graph.number_of_nodes(),
            "relationships": rag.index.graph.number_of_edges(),
        }
    return out


def refresh_cost(rag: SmolRag, rounds: int = 10) -> dict:
    """What keeping the networkx view current costs a reader: the next query's refresh after a
    commit, for two kinds of commit through the engine's own graph edit. ``new_document``: one more
    document like the corpus's own (100 excerpts, same mention distribution); ``popular_items``: a
    document citing the 300 most-cited entities and 200 of their relationships, re-ingested each
    round (its previous version taken out). For comparison, rebuilding the whole view from the rows.
    """
    rng = np.random.default_rng(1)
    new = [
        _timed_refresh(
            rag,
            lambda edit, r=r: _merge_document(edit, f"new-{r:03d}", _mentions(rng, PER_DOC), rng),
        )
        for r in range(rounds)
    ]
    popular = _popular_rounds(rag, rounds)
    index, started = rag.index, time.perf_counter()
    with index.db.snapshot():
        GraphView().apply(index.graph.changes_since(-1, index.version))
    return {
        "new_document": _summary(new),
        "popular_items": _summary(popular),
        "rebuild_ms": round(1000 * (time.perf_counter() - started), 1),
    }


def after_document_commit(rag: SmolRag, questions: list[str], modes: dict) -> dict:
    """What a reader pays on its first query after another commit of one whole document (its
    excerpts, extractions, graph rows and vectors, logged as ingestion logs them): the refresh of
    the graph view and of BM25 timed apart, then the first query of each mode against that mode's
    p50. Medians of ``ROUNDS_AFTER_COMMIT`` commits per mode.
    """
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((500, DIM)).astype(np.float32) / np.sqrt(DIM)
    out: dict[str, Any] = {"refresh": [], "modes": {}}
    for mode in ("standard", "local_kg", "global_kg", "hybrid_kg", "mix"):
        extra = []
        for r in range(ROUNDS_AFTER_COMMIT):
            _commit_document(rag, f"commit-{mode}-{r}", rng, centres)
            started = time.perf_counter()
            rag.retrieve(questions[r % len(questions)], mode)
            extra.append(1000 * (time.perf_counter() - started) - modes[mode]["retrieval_ms_p50"])
            _commit_document(rag, f"commit-{mode}-{r}-parts", rng, centres)
            out["refresh"].append(_timed_parts(rag))
        out["modes"][mode] = {
            "first_query_extra_ms_p50": round(statistics.median(extra), 2),
            "share_of_retrieval_p50": round(
                statistics.median(extra) / modes[mode]["retrieval_ms_p50"], 3
            ),
        }
    parts = out.pop("refresh")
    out["refresh_ms_p50"] = {k: round(statistics.median(p[k] for p in parts), 2) for k in parts[0]}
    return out


def _commit_document(
    rag: SmolRag, doc_id: str, rng: np.random.Generator, centres: np.ndarray
) -> None:
    """One synthetic document written as ingestion commits it: records, graph rows, the document
    logged under the new version, then its excerpt vectors.
    """
    index, edit = rag.index, GraphEdit(rag.index.graph)
    ids, records = _merge_document(edit, doc_id, _mentions(rng, PER_DOC), rng)
    with index.db.transaction():
        index.excerpts.set_many(records)
        index.documents.set(doc_id, _document(doc_id, ids))
        index.bump_version(documents=[doc_id])
        index.write_graph(edit.changes())
    index.excerpt_vectors.upsert(
        ids, _vectors(rng, len(ids), centres), [{"doc_id": doc_id}] * len(ids)
    )


def _timed_parts(rag: SmolRag) -> dict[str, float]:
    started = time.perf_counter()
    rag.index.graph_view()
    viewed = time.perf_counter()
    rag.derived.lexical(rag.settings.lexical_summary)
    done = time.perf_counter()
    return {"graph_view_ms": 1000 * (viewed - started), "bm25_ms": 1000 * (done - viewed)}


def _popular_rounds(rag: SmolRag, rounds: int) -> list[tuple[int, float]]:
    graph = rag.graph()
    keys = sorted(graph.nodes, key=lambda k: -len(graph.nodes[k]["excerpt_ids"]))[:300]
    pairs = [p for p in graph.edges if p[0] in set(keys) and p[1] in set(keys)][:200]
    names = {k: graph.nodes[k]["name"] for k in keys}
    extraction = Extraction(
        [EntityRecord(names[k], "component", f"{names[k]} is cited again.") for k in keys],
        [
            RelationshipRecord(names[a], names[b], "cited together", ["again"], 1.0)
            for a, b in pairs
        ],
    )
    timed = []
    for round_ in range(rounds):

        def commit(edit: GraphEdit, r: int = round_) -> None:
            if r:
                remove_document(
                    edit, f"popular-{r - 1:03d}", keys, [tuple(sorted(p)) for p in pairs]
                )
            merge_extraction(
                edit, f"popular-{r:03d}", f"popular-{r:03d}:0000", extraction, *CAPS, Touched()
            )

        timed.append(_timed_refresh(rag, commit))
    return timed


def _timed_refresh(rag: SmolRag, commit: Any) -> tuple[int, float]:
    """Commit ``commit(edit)``'s graph changes, then time the view's refresh; (rows changed, ms)."""
    index, edit = rag.index, GraphEdit(rag.index.graph)
    commit(edit)
    change = edit.changes()
    with index.db.transaction():
        index.bump_version()
        index.write_graph(change)
    started = time.perf_counter()
    index.graph_view()
    return len(change.contributions) + len(change.removed), 1000 * (time.perf_counter() - started)


def _summary(timed: list[tuple[int, float]]) -> dict:
    return {
        "changed_contributions": round(statistics.median(n for n, _ in timed)),
        "refresh_ms_p50": round(statistics.median(ms for _, ms in timed), 2),
        "refresh_ms_max": round(max(ms for _, ms in timed), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--dir", default=None, help="keep the index here; an existing one is reused"
    )
    parser.add_argument("--out", default=default_out("query_overhead"))
    args = parser.parse_args()
    data_dir = Path(args.dir or tempfile.mkdtemp(prefix="smolrag-overhead-"))
    build_s = 0.0 if (data_dir / "index.sqlite").exists() else build(data_dir, args.excerpts)
    result = {
        "excerpts": args.excerpts,
        "build_s": round(build_s, 1),
        "modes": measure(data_dir, args.queries),
        "targets_ms_p50": {"standard": 20, "graph modes": 60},
    }
    publish(result, args.out)


if __name__ == "__main__":
    main()
