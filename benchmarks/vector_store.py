"""Exact search over a large memory-mapped vector store: latency and anonymous memory (RssAnon).

usage: python -m benchmarks.vector_store [--rows 1000000] [--dim 384] [--dir DIR] [--out FILE]
Builds the store in DIR (kept for re-runs when given), then searches it from a fresh process view.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._results import default_out, publish
from smolrag_lab.stores import MmapVectorStore


def rss_anon_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build(path: Path, rows: int, dim: int, batch: int = 100_000) -> float:
    store = MmapVectorStore(path, dim)
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    for start in range(len(store), rows, batch):
        n = min(batch, rows - start)
        store.upsert(
            [f"v{start + i}" for i in range(n)], rng.standard_normal((n, dim), dtype=np.float32)
        )
    store.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--out", default=default_out("vector_store"))
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="smolrag-vec-"))
    build_s = build(folder, args.rows, args.dim)
    rss_before = rss_anon_mb()
    store = MmapVectorStore(folder, args.dim, readonly=True)
    queries = np.random.default_rng(1).standard_normal((21, args.dim), dtype=np.float32)
    store.query(queries[0], 10)  # page the matrix in once
    latencies = []
    for q in queries[1:]:
        started = time.perf_counter()
        store.query(q, 10)
        latencies.append(1000 * (time.perf_counter() - started))
    started = time.perf_counter()
    store.query_many(np.random.default_rng(2).standard_normal((64, args.dim), dtype=np.float32), 10)
    batch_ms = 1000 * (time.perf_counter() - started)
    result = {
        "rows": args.rows,
        "dim": args.dim,
        "build_s": round(build_s, 1),
        "matrix_bytes": args.rows * args.dim * 4,
        "single_query_top10_ms_p50": round(statistics.median(latencies), 1),
        "batch64_query_ms": round(batch_ms, 1),
        "batch64_ms_per_query": round(batch_ms / 64, 2),
        "rss_anon_mb_before_open": round(rss_before, 1),
        "rss_anon_mb_after_search": round(rss_anon_mb(), 1),
    }
    store.close()
    if not args.dir:
        shutil.rmtree(folder, ignore_errors=True)
    publish(result, args.out)


if __name__ == "__main__":
    main()
