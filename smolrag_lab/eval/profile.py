"""Ingestion profile: time per stage, peak memory, disk bytes, provider calls, tokens and cost."""

from __future__ import annotations

import resource
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..engine import SmolRag


def profiled_ingest(
    rag: SmolRag, paths: Iterable[str | Path], progress: bool = False
) -> dict[str, Any]:
    """Ingest ``paths`` while sampling memory every 0.1 s (memory-profiler when installed, else only
    the peak RSS). The samples give a memory timeline and the peak seen while each stage was
    running.
    """
    paths = list(paths)
    samples: list[tuple[float, float]] = []
    try:
        from memory_profiler import memory_usage

        samples, report = memory_usage(
            (rag.ingest, (paths,), {"progress": progress}),
            timestamps=True,
            retval=True,
            interval=0.1,
            include_children=False,
        )
        peak_mb, memory_source = max(m for m, _ in samples), "memory-profiler"
    except ImportError:
        report = rag.ingest(paths, progress=progress)
        peak_mb, memory_source = (
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "ru_maxrss",
        )
    provider_stats = rag.providers.stats()
    return {
        **report.counts(),
        "peak_memory_mb": round(float(peak_mb), 1),
        "memory_source": memory_source,
        "stage_peak_memory_mb": stage_peak_memory(report.stage_spans, samples),
        "memory_timeline": _timeline(samples),
        "skipped": report.skipped,
        "failed": report.failed,
        "disk_bytes": rag.index.sizes(),
        "provider_stats": provider_stats,
        "estimated_cost_usd": estimate_cost(rag, provider_stats),
    }


def stage_peak_memory(
    spans: list[tuple[str, float, float]], samples: list[tuple[float, float]]
) -> dict[str, float]:
    """The highest memory sample taken while a stage was running, or the sample nearest in time for
    a stage shorter than the sampling interval. Stages of different documents overlap, so one sample
    can count for several stages.
    """
    peaks: dict[str, float] = {}
    if not samples:
        return peaks
    for stage, start, end in spans:
        inside = [m for m, t in samples if start <= t <= end]
        if not inside:
            inside = [min(samples, key=lambda s: min(abs(s[1] - start), abs(s[1] - end)))[0]]
        peaks[stage] = round(max(peaks.get(stage, 0.0), max(inside)), 1)
    return peaks


def _timeline(samples: list[tuple[float, float]], points: int = 200) -> list[tuple[float, float]]:
    """(seconds since start, MB), thinned to at most ``points`` samples."""
    if not samples:
        return []
    step = max(1, len(samples) // points)
    start = samples[0][1]
    return [(round(t - start, 2), round(m, 1)) for m, t in samples[::step]]


def estimate_cost(rag: SmolRag, provider_stats: dict[str, dict]) -> dict[str, float]:
    """What the same calls would cost at the configured prices (the local backends cost nothing)."""
    s = rag.settings
    prompt = sum(v.get("prompt_tokens", 0) for k, v in provider_stats.items() if k != "embeddings")
    completion = sum(
        v.get("completion_tokens", 0) for k, v in provider_stats.items() if k != "embeddings"
    )
    embedding = provider_stats.get("embeddings", {}).get("prompt_tokens", 0)
    return {
        "completion_usd": round(
            prompt / 1000 * s.price_prompt_per_1k + completion / 1000 * s.price_completion_per_1k, 6
        ),
        "embedding_usd": round(embedding / 1000 * s.price_embedding_per_1k, 6),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "embedding_tokens": embedding,
    }
