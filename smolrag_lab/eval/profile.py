"""Ingestion profile: time per stage, peak memory, bytes on disk, provider calls, tokens and cost."""

from __future__ import annotations

import resource
from pathlib import Path
from typing import Any, Iterable

from ..engine import SmolRag


def profiled_ingest(rag: SmolRag, paths: Iterable[str | Path], progress: bool = False) -> dict[str, Any]:
    """Ingest ``paths`` while sampling memory (memory-profiler when installed, else the peak RSS)."""
    paths = list(paths)
    try:
        from memory_profiler import memory_usage

        peak_mb, report = memory_usage((rag.ingest, (paths,), {"progress": progress}), max_usage=True,
                                       retval=True, interval=0.1, include_children=False)
        memory_source = "memory-profiler"
    except ImportError:
        report = rag.ingest(paths, progress=progress)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        memory_source = "ru_maxrss"
    provider_stats = rag.providers.stats()
    return {**report.counts(), "peak_memory_mb": round(float(peak_mb), 1), "memory_source": memory_source,
            "skipped": report.skipped, "failed": report.failed,
            "disk_bytes": rag.index.sizes(), "provider_stats": provider_stats,
            "estimated_cost_usd": estimate_cost(rag, provider_stats)}


def estimate_cost(rag: SmolRag, provider_stats: dict[str, dict]) -> dict[str, float]:
    """What the same calls would cost at the configured prices (the local backends cost nothing)."""
    s = rag.settings
    prompt = sum(v.get("prompt_tokens", 0) for k, v in provider_stats.items() if k != "embeddings")
    completion = sum(v.get("completion_tokens", 0) for k, v in provider_stats.items() if k != "embeddings")
    embedding = provider_stats.get("embeddings", {}).get("prompt_tokens", 0)
    return {"completion_usd": round(prompt / 1000 * s.price_prompt_per_1k
                                    + completion / 1000 * s.price_completion_per_1k, 6),
            "embedding_usd": round(embedding / 1000 * s.price_embedding_per_1k, 6),
            "prompt_tokens": prompt, "completion_tokens": completion, "embedding_tokens": embedding}
