"""Ingestion cost against document size: single documents of 10 KB, 100 KB, 1 MB and 8 MB built from
the demo corpus's paragraphs (shuffled, read from ../shared at run time), each into a fresh index
offline (local embedder and tasks, no caches), plus 1 MB through ``smolrag-lab simulate-endpoint``.
Cost that grows linearly keeps seconds per MB within 1.5x across sizes.

usage: python -m benchmarks.doc_scaling [--sizes 10000,100000,1000000,8000000]
       [--endpoint-bytes 1000000] [--latency-ms 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from benchmarks.ingest_cost import settings_for, start_endpoint
from smolrag_lab import Settings, SmolRag

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPUS = SHARED / "corpus" / "smolrag_docs"


def build_document(size: int, seed: int = 0) -> str:
    """A markdown document of about ``size`` bytes: the corpus's paragraphs (headings included) in
    a shuffled order, reshuffled each time they run out.
    """
    paragraphs = [
        p.strip()
        for f in sorted(CORPUS.glob("*.md"))
        for p in f.read_text(encoding="utf-8").split("\n\n")
        if p.strip()
    ]
    rng, parts, used = random.Random(seed), ["# Scaling test document"], 0
    while used < size:
        rng.shuffle(paragraphs)
        for p in paragraphs:
            parts.append(p)
            used += len(p.encode("utf-8")) + 2
            if used >= size:
                break
    return "\n\n".join(parts)


def ingest_one(settings: Settings, text: str, folder: Path) -> dict:
    path = folder / "document.md"
    path.write_text(text, encoding="utf-8")
    with SmolRag(settings) as rag:
        wall, cpu = time.perf_counter(), time.process_time()
        report = rag.ingest(path, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    megabytes = len(text.encode("utf-8")) / 1e6
    assert len(report.added) == 1 and not report.failed, report.failed
    return {
        "bytes": len(text.encode("utf-8")),
        "excerpts": report.excerpts,
        "entities": report.entities,
        "relationships": report.relationships,
        "wall_s": round(wall, 2),
        "client_cpu_s": round(cpu, 2),
        "s_per_mb": round(wall / megabytes, 2),
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
    }


def offline_settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        embedding_cache=False,
        completion_cache=False,
        query_cache=False,
        log_to_file=False,
        max_file_bytes=16_000_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,8000000")
    parser.add_argument("--endpoint-bytes", type=int, default=1_000_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--out", default=default_out("doc_scaling"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="doc_scaling_"))
    rows: dict[str, dict] = {}
    try:
        for size in (int(s) for s in args.sizes.split(",") if s):
            folder = work / f"offline_{size}"
            folder.mkdir()
            rows[f"offline {size:,} B"] = ingest_one(
                offline_settings(folder / "data"), build_document(size), folder
            )
            print(f"offline {size:,} B: {rows[f'offline {size:,} B']}", flush=True)
        if args.endpoint_bytes:
            process, base_url = start_endpoint(args.latency_ms, hashed=True)
            try:
                folder = work / "endpoint"
                folder.mkdir()
                settings = dataclasses.replace(
                    settings_for(folder / "data", base_url, "group"), max_file_bytes=16_000_000
                )
                rows[f"endpoint {args.endpoint_bytes:,} B"] = ingest_one(
                    settings, build_document(args.endpoint_bytes), folder
                )
            finally:
                process.terminate()
                process.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    offline = [r["s_per_mb"] for k, r in rows.items() if k.startswith("offline")]
    publish(
        {
            "benchmark": "doc_scaling",
            "machine": "2 cores, shared with other work: compare the ratio, not the seconds",
            "documents": rows,
            "offline_s_per_mb_max_over_min": round(max(offline) / min(offline), 2)
            if offline
            else None,
            "target_ratio": 1.5,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
