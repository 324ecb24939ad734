"""Vector search at scale, side by side in one run: the memory-mapped exact store against
faiss-cpu's IndexFlatIP on the same vectors, and the HNSW setting (usearch) against exact search.

usage: python -m benchmarks.vector_search [--rows 1000000] [--dim 384] [--dir DIR] [--out FILE]
Needs the ``bench`` extra (faiss-cpu). Vectors are synthetic and embedding-like: 2,000 topic centres
plus noise, L2-normalised. RssAnon is the anonymous memory of this process: the mapped matrix is
file-backed and does not count, a loaded copy does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._results import default_out, publish
from benchmarks.vector_store import rss_anon_mb
from smolrag_lab.stores import MmapVectorStore
from smolrag_lab.stores.ann import AnnConfig

K = 10


def embedding_like(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray) -> np.ndarray:
    picked = centres[rng.integers(0, len(centres), n)]
    return (picked + 0.6 * rng.standard_normal((n, dim), dtype=np.float32) / np.sqrt(dim)).astype(
        np.float32
    )


def build(path: Path, rows: int, dim: int, batch: int = 100_000) -> float:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2_000, dim)).astype(np.float32) / np.sqrt(dim)
    store = MmapVectorStore(path, dim)
    started = time.perf_counter()
    for start in range(len(store), rows, batch):
        n = min(batch, rows - start)
        store.upsert([f"v{start + i}" for i in range(n)], embedding_like(rng, n, dim, centres))
    store.close()
    return time.perf_counter() - started


def timed(fn, queries: np.ndarray) -> tuple[float, list]:
    fn(queries[0])  # warm: page in, load
    latencies, results = [], []
    for q in queries:
        started = time.perf_counter()
        results.append(fn(q))
        latencies.append(1000 * (time.perf_counter() - started))
    return statistics.median(latencies), results


def exact_vs_faiss(store: MmapVectorStore, queries: np.ndarray, batch: np.ndarray) -> dict:
    import faiss

    ours_ms, _ = timed(lambda q: store.query(q, K), queries)
    started = time.perf_counter()
    store.query_many(batch, K)
    ours_batch = 1000 * (time.perf_counter() - started)
    rss_ours = rss_anon_mb()
    matrix = np.ascontiguousarray(store._matrix)  # faiss needs the vectors in its own memory
    index = faiss.IndexFlatIP(store.dim)
    index.add(matrix)
    faiss_ms, _ = timed(lambda q: index.search(q[None, :], K), queries)
    started = time.perf_counter()
    index.search(batch, K)
    faiss_batch = 1000 * (time.perf_counter() - started)
    return {
        "exact_single_ms_p50": round(ours_ms, 2),
        "faiss_flatip_single_ms_p50": round(faiss_ms, 2),
        "exact_vs_faiss_single": round(ours_ms / faiss_ms, 2),
        "exact_batch64_ms": round(ours_batch, 1),
        "faiss_batch64_ms": round(faiss_batch, 1),
        "rss_anon_mb_exact_search": round(rss_ours, 1),
        "rss_anon_mb_with_faiss_copy": round(rss_anon_mb(), 1),
    }


def hnsw(folder: Path, dim: int, queries: np.ndarray, exact: list) -> dict:
    config = AnnConfig()
    store = MmapVectorStore(folder, dim, ann=config)
    started = time.perf_counter()
    store.query(queries[0], K)  # builds (or catches up) the graph
    build_s = time.perf_counter() - started
    store.close()  # saves it
    reader = MmapVectorStore(folder, dim, readonly=True, ann=config)
    rss_before = rss_anon_mb()
    ms, results = timed(lambda q: reader.query(q, K), queries)
    recall = np.mean(
        [
            len({h.id for h in got} & {h.id for h in want}) / K
            for got, want in zip(results, exact, strict=True)
        ]
    )
    out = {
        "hnsw_build_s": round(build_s, 1),
        "hnsw_single_ms_p50": round(ms, 3),
        "hnsw_recall_at_10": round(float(recall), 4),
        "hnsw_file_bytes": sum(p.stat().st_size for p in folder.glob("ann.*")),
        "rss_anon_mb_hnsw_reader": round(rss_anon_mb() - rss_before, 1),
        "hnsw_config": config.__dict__,
    }
    reader.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--dir", default=None, help="keep the store here for re-runs")
    parser.add_argument("--out", default=default_out("vector_search"))
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="smolrag-vec-"))
    build_s = build(folder, args.rows, args.dim)
    rng = np.random.default_rng(1)
    centres = np.random.default_rng(0).standard_normal((2_000, args.dim)).astype(
        np.float32
    ) / np.sqrt(args.dim)
    queries = embedding_like(rng, args.queries, args.dim, centres)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    store = MmapVectorStore(folder, args.dim, readonly=True)
    exact = [store.query(q, K) for q in queries]
    result = {
        "rows": args.rows,
        "dim": args.dim,
        "queries": args.queries,
        "build_s": round(build_s, 1),
        **exact_vs_faiss(store, queries, embedding_like(rng, 64, args.dim, centres)),
    }
    store.close()
    result.update(hnsw(folder, args.dim, queries, exact))
    result["hnsw_speedup_vs_exact"] = round(
        result["exact_single_ms_p50"] / result["hnsw_single_ms_p50"], 1
    )
    publish(result, args.out)


if __name__ == "__main__":
    main()
