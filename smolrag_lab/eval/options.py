"""Optimisation options measured against the default on a labelled dataset: retrieval quality per
mode, latency, and what each option saves (vector bytes on disk and scanned per query, graph size);
plus a load test of concurrent clients through the Python API.

An option that changes how vectors are stored runs on a copy of the default index with its vectors
rewritten (:meth:`Index.copy_to`); shortlists (int8, PCA) are derived files built beside the default
matrix on first use. So no option pays for, or varies with, a second ingestion.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..engine import SmolRag
from ..progress import progress_bar
from ..query.retrieval import MODES
from ..settings import Settings
from .dataset import Dataset
from .harness import run_benchmark
from .metrics import latency_summary
from .paired import delta_cell, paired_values
from .stats import compare

GRAPH_MODES = ("local_kg", "global_kg", "hybrid_kg", "mix")
METRICS = ("ndcg@10", "recall@10", "hit@5")
ANSWER_OPTION_METRICS = ("answer_f1", "groundedness", "answer_context_tokens")


@dataclass(frozen=True)
class Option:
    name: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    modes: tuple[str, ...] = MODES


def default_options() -> tuple[Option, ...]:
    vector = [
        Option("float16 storage", {"vector_storage": "float16"}),
        Option("int8 shortlist", {"vector_index": "int8"}),
        Option("int8, no re-scoring", {"vector_index": "int8", "vector_rescore": False}),
        *(
            Option(f"PCA {d}", {"vector_index": "pca", "vector_pca_dims": d})
            for d in (64, 128, 256)
        ),
        Option(
            "PCA 128, no re-scoring",
            {"vector_index": "pca", "vector_pca_dims": 128, "vector_rescore": False},
        ),
    ]
    graph = [
        Option(
            "prune degree < 2", {"prune_min_degree": 2, "prune_orphans": True}, modes=GRAPH_MODES
        ),
        Option(
            "prune mentions < 2",
            {"prune_min_mentions": 2, "prune_orphans": True},
            modes=GRAPH_MODES,
        ),
        Option(
            "prune weight < 2", {"prune_min_weight": 2.0, "prune_orphans": True}, modes=GRAPH_MODES
        ),
    ]
    return (
        *vector,
        *graph,
        Option("parallel retrieval", {"parallel_retrieval": True}, modes=("hybrid_kg", "mix")),
        Option("auto query type", modes=("auto",)),
    )


def compare_options(
    dataset: Dataset,
    settings: Settings,
    options: Sequence[Option] | None = None,
    progress: bool = False,
    answers: bool = False,
) -> list[dict[str, Any]]:
    """One row per option and mode (the default first), with the change in each metric against the
    default's same mode (``auto`` is compared with ``standard``). With ``answers``, the answers are
    written and scored too (:data:`ANSWER_OPTION_METRICS`, with their changes).
    """
    options = default_options() if options is None else options
    # Query embeddings are computed in every run: with the cache, runs after the first would skip
    # them and look faster than the default for that reason alone.
    settings = settings.replace(embedding_cache=False)
    with progress_bar(1 + len(options), "options", "option", progress) as bar:
        baseline = _measure("default", dataset, settings, MODES, progress, answers)
        bar.update(1)
        by_mode = {row["mode"]: row for row in baseline}
        rows = list(baseline)
        for option in options:
            bar.set_postfix_str(option.name)
            option_settings = settings.replace(**option.overrides)
            if option_settings.vector_storage != settings.vector_storage:
                option_settings = option_settings.replace(
                    data_dir=_copy_for(settings, option_settings)
                )
            measured = _measure(
                option.name, dataset, option_settings, option.modes, progress, answers
            )
            for row in measured:
                reference = by_mode["standard" if row["mode"] == "auto" else row["mode"]]
                rows.append({**row, **_against(reference, row)})
            bar.update(1)
    return rows


def _against(reference: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """Each metric's change from the default: the mean difference, its paired 95% interval and
    sign-flip p-value over the same questions, and whether it is within noise; for the answer
    metrics the row was scored on, the change alone.
    """
    answered = [m for m in ANSWER_OPTION_METRICS if row.get(m) is not None]
    out: dict[str, Any] = {
        f"delta_{m}": round(row[m] - (reference.get(m) or 0), 4) for m in answered
    }
    for m in METRICS:
        out[f"delta_{m}"] = round(row[m] - reference[m], 4)
        ref, cand = paired_values(reference["per_question"], row["per_question"], m)
        if ref:
            out[f"vs_default_{m}"] = compare(ref, cand).to_dict()
    return out


def _copy_for(base: Settings, option: Settings) -> Path:
    target = Path(f"{base.data_dir}-{option.vector_storage}")
    if not target.exists():
        with SmolRag(base, log_to_file=False) as rag:
            rag.index.copy_to(target, option.vector_storage)
    return target


def _measure(
    name: str,
    dataset: Dataset,
    s: Settings,
    modes: Sequence[str],
    progress: bool,
    answers: bool = False,
) -> list[dict[str, Any]]:
    run = run_benchmark(dataset, s, modes, answer=answers, baselines=False, progress=progress)
    full = run.report()
    report, questions = full["modes"], full["per_question"]
    with SmolRag(s, log_to_file=False, query_cache=False) as rag:
        rag.retrieve(dataset.items[0].query, "mix")  # shortlists are built on first use
        footprint = _footprint(rag, s)
    return [
        {
            "option": name,
            "mode": mode,
            **{m: report[mode][m] for m in METRICS},
            **{
                m: report[mode][m] for m in ANSWER_OPTION_METRICS if report[mode].get(m) is not None
            },
            "p50_ms": report[mode]["latency_ms"]["p50"],
            "p95_ms": report[mode]["latency_ms"]["p95"],
            **footprint,
            "per_question": {k: questions[mode][k] for k in ("id", *METRICS)},
        }
        for mode in modes
    ]


def _footprint(rag: SmolRag, s: Settings) -> dict[str, Any]:
    index, graph = rag.index, rag.query_graph(s)
    stores = (index.excerpt_vectors, index.entity_vectors, index.relationship_vectors)
    return {
        "vector_disk_bytes": sum(store.footprint_bytes() for store in stores),
        "vector_scan_bytes": sum(store.scan_bytes() for store in stores),
        "graph_nodes": graph.number_of_nodes(),
        "graph_edges": graph.number_of_edges(),
        "graph_bytes": len(pickle.dumps(graph, protocol=pickle.HIGHEST_PROTOCOL)),
    }


def _timed_query(
    rag: SmolRag,
    reference: dict[tuple[str, str], list[str]],
    outcomes: list[tuple[float, str]],
    job: tuple[str, str],
) -> None:
    """One load-test query: its latency and whether it matched the lone run (or how it failed)."""
    started = time.perf_counter()
    try:
        found = _sources(rag.query(*job, query_cache=False))
        status = "ok" if found == reference[job] else "mismatch"
    except Exception as exc:  # counted: the load test reports failures instead of stopping
        status = f"error: {type(exc).__name__}"
    outcomes.append((1000 * (time.perf_counter() - started), status))


def load_test(
    rag: SmolRag,
    questions: Sequence[str],
    levels: Sequence[int] = (1, 2, 4, 8, 16),
    queries_per_level: int = 160,
    modes: Sequence[str] = MODES,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Concurrent clients (threads) sending full queries (retrieval and answer, no query cache).
    Each answer's sources are compared with the same query run alone first: any difference is a
    race.
    """
    jobs = [(q, m) for q in questions for m in modes]
    with progress_bar(
        len(jobs) + len(levels) * queries_per_level, "load test", "query", progress
    ) as bar:
        reference = {}
        for job in jobs:
            reference[job] = _sources(rag.query(*job, query_cache=False))
            bar.update(1)
        return _load_levels(rag, jobs, reference, levels, queries_per_level, bar)


def _load_levels(
    rag: SmolRag,
    jobs: list[tuple[str, str]],
    reference: dict[tuple[str, str], list[str]],
    levels: Sequence[int],
    queries_per_level: int,
    bar: Any,
) -> list[dict[str, Any]]:
    rows = []
    for level in levels:
        work = [jobs[i % len(jobs)] for i in range(queries_per_level)]
        outcomes: list[tuple[float, str]] = []
        started = time.perf_counter()
        with ThreadPoolExecutor(level) as pool:
            for _ in pool.map(partial(_timed_query, rag, reference, outcomes), work):
                bar.update(1)
        wall = time.perf_counter() - started
        latency = latency_summary([ms for ms, _ in outcomes])
        errors = sum(status.startswith("error") for _, status in outcomes)
        rows.append(
            {
                "clients": level,
                "queries": len(work),
                "wall_s": round(wall, 2),
                "throughput_qps": round(len(work) / wall, 1),
                "p50_ms": latency["p50"],
                "p95_ms": latency["p95"],
                "errors": errors,
                "error_rate": round(errors / len(work), 4),
                "mismatches": sum(status == "mismatch" for _, status in outcomes),
            }
        )
    return rows


def _sources(result: Any) -> list[str]:
    return [s.excerpt_id for s in result.sources]


def options_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown: each option and mode with its metrics, their change against the default, latency
    and footprint (MB) — what the README and ``smolrag-lab bench --options`` show.
    """
    head = (
        "| option | mode | ndcg@10 | Δ ndcg@10 [95% CI] | recall@10 | Δ recall@10 [95% CI] "
        "| p50 ms | p95 ms | vectors on disk MB "
        "| vectors scanned MB | graph nodes / edges |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['option']} | {r['mode']} | {r['ndcg@10']:.3f} | {_delta(r, 'ndcg@10')} "
            f"| {r['recall@10']:.3f} | {_delta(r, 'recall@10')} "
            f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
            f"| {r['vector_disk_bytes'] / 2**20:.2f} | {r['vector_scan_bytes'] / 2**20:.2f} "
            f"| {r['graph_nodes']} / {r['graph_edges']} |"
        )
    return "\n".join(lines)


def _delta(row: dict[str, Any], metric: str, interval: bool = True) -> str:
    """The change against the default: with its interval (``within noise`` marked), or the default's
    own row as a reference; ``interval=False`` keeps the sign and a ``~`` mark, for compact tables.
    """
    comparison = row.get(f"vs_default_{metric}")
    if comparison is None:
        if row.get("option") == "default":
            return "(default)"
        return f"{row.get(f'delta_{metric}', 0):+.3f}"
    if interval:
        return delta_cell(comparison)
    return f"{comparison['delta']:+.3f}" + ("~" if comparison["within_noise"] else "")


def load_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| clients | queries | queries/s | p50 ms | p95 ms | errors "
        "| results differing from a lone run |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['clients']} | {r['queries']} | {r['throughput_qps']} "
        f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
        f"| {r['errors']} ({r['error_rate']:.1%}) | {r['mismatches']} |"
        for r in rows
    ]
    return "\n".join(lines)


def options_summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown, one row per option: the change in ndcg@10 for each mode it was run in ("·" where it
    was not; ``~`` where its paired 95% interval includes zero, i.e. within noise), p50 latency of
    ``standard`` and ``mix`` (or ``auto``), and its footprint. The README's table.
    """
    by_option: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_option.setdefault(r["option"], {})[r["mode"]] = r
    head = (
        "| option | Δ ndcg@10 "
        + " / ".join(MODES)
        + " | p50 ms standard / mix | vectors on disk / scanned MB "
        "| graph nodes / edges / MB |"
    )
    lines = [head, "|---|---|---|---|---|"]
    for name, modes in by_option.items():
        if "auto" in modes:
            delta = f"auto vs standard {_delta(modes['auto'], 'ndcg@10')}"
            latency = f"{modes['auto']['p50_ms']:.1f} (auto)"
        else:
            delta = " / ".join(
                _delta(modes[m], "ndcg@10", interval=False) if m in modes else "·" for m in MODES
            )
            latency = " / ".join(
                f"{modes[m]['p50_ms']:.1f}" if m in modes else "·" for m in ("standard", "mix")
            )
        any_row = next(iter(modes.values()))
        lines.append(
            f"| {name} | {delta} | {latency} "
            f"| {any_row['vector_disk_bytes'] / 2**20:.1f} / "
            f"{any_row['vector_scan_bytes'] / 2**20:.1f} "
            f"| {any_row['graph_nodes']} / {any_row['graph_edges']} / "
            f"{any_row['graph_bytes'] / 2**20:.1f} |"
        )
    return "\n".join(lines)
