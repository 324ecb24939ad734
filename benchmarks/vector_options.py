"""Vector compression and dimensionality reduction at scale: disk, resident memory, latency and
recall@10 against exact float32 search, each variant measured in its own fresh process.

usage: python -m benchmarks.vector_options [--rows 200000] [--dim 384] [--queries 200] [--out FILE]
Vectors are synthetic and embedding-like (see benchmarks.vector_search). Memory is read from
/proc/self/status after the queries: RssAnon (heap) and the growth of RssFile while the store
was opened and searched (its mapped file pages resident), so a variant that scans fewer bytes
shows it as fewer resident pages.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._results import default_out, publish
from benchmarks.vector_search import build, embedding_like
from smolrag_lab.stores import MmapVectorStore
from smolrag_lab.stores.ann import AnnConfig

K = 10
VARIANTS = {  # name: (storage, AnnConfig keyword arguments or None for exact search)
    "float32 exact (default)": ("float32", None),
    "float16 exact": ("float16", None),
    "int8 shortlist, re-scored": ("float32", {"kind": "int8"}),
    "int8, no re-scoring": ("float32", {"kind": "int8", "rescore": False}),
    "PCA 64, re-scored": ("float32", {"kind": "pca", "pca_dims": 64}),
    "PCA 128, re-scored": ("float32", {"kind": "pca", "pca_dims": 128}),
    "PCA 256, re-scored": ("float32", {"kind": "pca", "pca_dims": 256}),
    "PCA 128, no re-scoring": ("float32", {"kind": "pca", "pca_dims": 128, "rescore": False}),
    "HNSW (i8 graph), re-scored": ("float32", {"kind": "hnsw"}),
}


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def config_of(extra: dict | None) -> AnnConfig | None:
    return None if extra is None else AnnConfig(min_rows=0, **extra)


def measure(path: Path, storage: str, extra: dict | None, queries_file: Path) -> dict:
    """In a fresh process: open the store, time single queries, read memory; top-10 ids a query."""
    queries = np.load(queries_file)
    file_pages_before = status_mb("RssFile")
    store = MmapVectorStore(
        path, queries.shape[1], readonly=True, ann=config_of(extra), dtype=storage
    )
    store.query(queries[0], K)
    latencies, found = [], []
    for q in queries:
        started = time.perf_counter()
        found.append([h.id for h in store.query(q, K)])
        latencies.append(1000 * (time.perf_counter() - started))
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "rss_anon_mb": round(status_mb("RssAnon"), 1),
        "mapped_resident_mb": round(status_mb("RssFile") - file_pages_before, 1),
        "found": found,
    }


def files_mb(path: Path, storage: str, extra: dict | None) -> float:
    matrix = sum(p.stat().st_size for p in path.glob("matrix.*"))
    kind = (extra or {}).get("kind")
    kind = f"pca{extra['pca_dims']}" if kind == "pca" else kind
    sidecar = (
        sum(p.stat().st_size for p in path.glob(f"ann.*.{kind}*")) if kind and kind != "hnsw" else 0
    )
    if kind == "hnsw":
        sidecar = sum(p.stat().st_size for p in path.glob("ann.*.usearch"))
    return round((matrix + sidecar) / 2**20, 1)


def prepare(work: Path, rows: int, dim: int) -> dict[str, float]:
    """The float32 store, its float16 copy, and every derived shortlist (build times)."""
    build(work / "float32", rows, dim)
    source = MmapVectorStore(work / "float32", dim, readonly=True)
    half = MmapVectorStore(work / "float16", dim, dtype="float16")
    ids = source.ids()
    for start in range(0, len(ids), 50_000):
        half.upsert(ids[start : start + 50_000], source.get_vectors(ids[start : start + 50_000]))
    half.close()
    source.close()
    built = {}
    for name, (storage, extra) in VARIANTS.items():
        if extra is not None and extra.get("rescore", True):
            started = time.perf_counter()
            store = MmapVectorStore(work / storage, dim, ann=config_of(extra), dtype=storage)
            store.query(np.ones(dim, dtype=np.float32), K)  # builds the shortlist
            store.close()
            built[name] = round(time.perf_counter() - started, 1)
    return built


def measure_variants(work: Path, built: dict[str, float]) -> dict[str, dict]:
    """Each variant measured in its own process; recall@10 against the first (exact) variant."""
    results, truth = {}, None
    for name, (storage, extra) in VARIANTS.items():
        command = [sys.executable, "-m", "benchmarks.vector_options", "--measure"]
        command += [str(work / storage), storage, json.dumps(extra), str(work / "queries.npy")]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        row = json.loads(out)
        found = row.pop("found")
        truth = truth or found
        overlap = [len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]
        row["recall@10"] = round(float(np.mean(overlap)), 4)
        row["disk_mb"] = files_mb(work / storage, storage, extra)
        row["build_s"] = built.get(name, 0.0)
        results[name] = row
        print(name, row, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default=default_out("vector_options"))
    parser.add_argument(
        "--measure", nargs=4, help=argparse.SUPPRESS
    )  # path storage extra-json queries
    args = parser.parse_args()
    if args.measure:
        path, storage, extra, queries = args.measure
        print(json.dumps(measure(Path(path), storage, json.loads(extra), Path(queries))))
        return
    work = Path(tempfile.mkdtemp(prefix="smolrag-vecopt-"))
    try:
        built = prepare(work, args.rows, args.dim)
        rng = np.random.default_rng(7)
        centres = np.random.default_rng(0).standard_normal((2_000, args.dim)).astype(
            np.float32
        ) / np.sqrt(args.dim)
        np.save(work / "queries.npy", embedding_like(rng, args.queries, args.dim, centres))
        results = measure_variants(work, built)
        publish(
            {"rows": args.rows, "dim": args.dim, "queries": args.queries, "variants": results},
            args.out,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
