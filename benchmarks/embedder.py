"""Local embedder throughput (chunks/s) and single-query latency; prints and writes JSON.

usage: python -m benchmarks.embedder [--chunks 320] [--out benchmarks/results/embedder.json]
Chunks are ~100-word paragraphs of the demo corpus (or synthetic text when it is absent). The
length-grouping comparison embeds the demo corpus's real excerpts + summaries (lengths vary) in
document order with fixed batches (naive) and grouped by length, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab.providers import LocalEmbedder

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "smolrag_docs"


def sample_chunks(count: int, words_per_chunk: int = 100) -> list[str]:
    words: list[str] = []
    for path in sorted(CORPUS.glob("*.md")):
        words.extend(path.read_text(encoding="utf-8").split())
    if not words:
        words = ("retrieval augmented generation with knowledge graphs " * 2000).split()
    chunks = [
        " ".join(words[i : i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)
    ]
    while len(chunks) < count:
        chunks += chunks
    return chunks[:count]


def run(count: int, batch_size: int) -> dict:
    started = time.perf_counter()
    embedder = LocalEmbedder(batch_size=batch_size)
    embedder.embed(["warm up"])
    load_s = time.perf_counter() - started
    chunks = sample_chunks(count)
    started = time.perf_counter()
    embedder.embed(chunks)
    batch_s = time.perf_counter() - started
    latencies = []
    for query in ["How does SmolRAG merge duplicate entities?"] * 30:
        t0 = time.perf_counter()
        embedder.embed([query])
        latencies.append(1000 * (time.perf_counter() - t0))
    return {
        "chunks": count,
        "batch_size": batch_size,
        "words_per_chunk": 100,
        "mean_word_pieces": round(statistics.mean(embedder.count_word_pieces(chunks)), 1),
        "model_load_s": round(load_s, 3),
        "chunks_per_s": round(count / batch_s, 1),
        "single_query_ms_p50": round(statistics.median(latencies), 2),
        "single_query_ms_max": round(max(latencies), 2),
    }


def grouping(batch_size: int) -> dict:
    """Chunks/s on texts of mixed length: batches in document order against batches grouped by
    length.
    """
    from smolrag_lab import Settings
    from smolrag_lab.ingest.chunking import Chunker
    from smolrag_lab.providers.local_tasks import summarize
    from smolrag_lab.tokens import TokenCounter

    s = Settings()
    chunker = Chunker(TokenCounter(), s.chunk_size, s.chunk_overlap, s.chunk_strategy)
    texts = []
    for path in sorted(CORPUS.glob("*.md")):
        document = path.read_text(encoding="utf-8")
        texts += [f"{e}\n\n{summarize(document, e)}" for e in chunker.split(document)]
    if not texts:
        return {}
    out = {"texts": len(texts)}
    for name, grouped in (("naive", False), ("grouped", True)):
        embedder = LocalEmbedder(batch_size=batch_size, group_by_length=grouped)
        embedder.embed(["warm up"])
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            embedder.embed(texts)
            best = min(best, time.perf_counter() - started)
        out[f"{name}_chunks_per_s"] = round(len(texts) / best, 1)
    out["grouping_speedup"] = round(out["grouped_chunks_per_s"] / out["naive_chunks_per_s"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=default_out("embedder"))
    args = parser.parse_args()
    result = run(args.chunks, args.batch_size)
    result["length_grouping"] = grouping(args.batch_size)
    publish(result, args.out)


if __name__ == "__main__":
    main()
