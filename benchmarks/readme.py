"""The README's result tables, rendered from ``benchmarks/results/*.json``.

The README holds cog blocks that call :func:`table`; ``make readme`` rewrites them from the results
and ``make lint`` (``cog --check``) fails when the README disagrees with the files it quotes. A
table never carries a number typed by hand: rerun the benchmark, then ``make readme``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
Row = Sequence[Any]


def load(name: str) -> dict[str, Any]:
    """One benchmark's published results."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def fmt(value: Any, digits: int = 1) -> str:
    """A figure as the tables show it: thousands separated, floats rounded, missing as ·."""
    if value is None:
        return "·"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(header: Row, rows: Sequence[Row]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def machine_line(result: dict[str, Any]) -> str:
    """Where a result was measured, from the ``machine`` block :func:`publish` records."""
    machine = result.get("machine")
    if not machine:
        return "_Machine not recorded (measured before results kept it)._"
    libraries = ", ".join(f"{k} {v}" for k, v in sorted(machine.get("libraries", {}).items()))
    return (
        f"_Measured on {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"Python {machine.get('python', '?')}, {machine.get('measured_at', '?')}; {libraries}._"
    )


def _api_load() -> str:
    result = load("api_load")
    rows = [
        (
            lv["clients"],
            fmt(lv["throughput_rps"]),
            fmt(lv["p50_ms"]),
            fmt(lv["p95_ms"]),
            lv["errors"],
        )
        for lv in result["levels"]
    ]
    return markdown(("clients", "requests/s", "p50 ms", "p95 ms", "errors"), rows)


def _load_test() -> str:
    from smolrag_lab.eval.options import load_table

    return load_table(load("options")["load_test"])


def _options(dataset: str) -> str:
    from smolrag_lab.eval.options import options_summary_table

    return options_summary_table(load("options")["datasets"][dataset]["rows"])


def _vector_search_rows() -> list[Row]:
    vs = load("vector_search")
    return [
        (
            f"exact search, {vs['rows']:,} × {vs['dim']} float32 on disk, one query, top-10",
            f"{fmt(vs['exact_single_ms_p50'])} ms p50; faiss IndexFlatIP "
            f"{fmt(vs['faiss_flatip_single_ms_p50'])} ms ({fmt(vs['exact_vs_faiss_single'], 2)}×)",
            "≤ 1.5× faiss",
        ),
        (
            "exact search, 64 queries in one matrix product",
            f"{fmt(vs['exact_batch64_ms'], 0)} ms (faiss {fmt(vs['faiss_batch64_ms'], 0)} ms)",
            "",
        ),
        (
            "anonymous memory (RssAnon) while searching the mapped matrix",
            f"{fmt(vs['rss_anon_mb_exact_search'], 0)} MB (faiss's loaded copy "
            f"{fmt(vs['rss_anon_mb_with_faiss_copy'], 0)} MB)",
            "< 200 MB",
        ),
        (
            f"HNSW (`vector_index=hnsw`) at {vs['rows']:,}",
            f"recall@10 {fmt(vs['hnsw_recall_at_10'], 3)}, "
            f"{fmt(vs['hnsw_single_ms_p50'], 2)} ms p50 "
            f"({fmt(vs['hnsw_speedup_vs_exact'], 0)}× faster than exact); build "
            f"{fmt(vs['hnsw_build_s'], 0)} s",
            "recall ≥ 0.95, ≥ 10× faster",
        ),
    ]


def _ingest_rows() -> list[Row]:
    cost = load("ingest_cost")
    group, excerpt = cost["pipelines"]["group"], cost["pipelines"]["excerpt"]
    return [
        (
            f"demo corpus via `simulate-endpoint` at {fmt(cost['latency_ms'], 0)} ms, "
            "`call_unit=group`",
            f"{group['chat_calls']} chat calls, {group['prompt_chars']:,} prompt characters, "
            f"{fmt(group['wall_s'], 2)} s wall "
            f"({fmt(cost['targets']['wall_vs_ideal'], 2)}× the ideal "
            f"{fmt(group['ideal_wall_s'], 2)} s); client CPU {fmt(group['client_cpu_s'], 2)} s",
            "≤ 1.3× ideal",
        ),
        (
            "the same, upstream-faithful `call_unit=excerpt`",
            f"{excerpt['chat_calls']} chat calls, {excerpt['prompt_chars']:,} prompt characters, "
            f"{fmt(excerpt['wall_s'], 1)} s wall",
            "",
        ),
        (
            "retrieval quality, demo questions, hit@5 standard / mix",
            f"group {fmt(group['quality']['standard_hit@5'], 2)} / "
            f"{fmt(group['quality']['mix_hit@5'], 2)}; "
            f"excerpt {fmt(excerpt['quality']['standard_hit@5'], 2)} / "
            f"{fmt(excerpt['quality']['mix_hit@5'], 2)}",
            "group no worse",
        ),
        (
            f"one-paragraph edit of one {group['edit']['excerpts_in_document']}-excerpt document",
            f"group: {group['edit']['chat_calls']} chat calls; "
            f"excerpt: {excerpt['edit']['chat_calls']}; "
            f"stale copies left: {group['edit']['stale_copies_of_old_paragraph']} / "
            f"{excerpt['edit']['stale_copies_of_old_paragraph']}",
            "only the changed calls",
        ),
    ]


def _query_rows() -> list[Row]:
    reruns, overhead = load("reruns"), load("query_overhead")
    modes = "; ".join(
        f"{mode} {fmt(v['overhead_ms_p50'])}"
        for mode, v in overhead["modes"].items()
        if "overhead_ms_p50" in v
    )
    return [
        (
            f"unchanged re-run of {reruns['documents']:,} small documents",
            f"{reruns['rerun_provider_calls']} provider calls, {fmt(reruns['rerun_s'], 2)} s "
            f"(first ingest {fmt(reruns['first_ingest_s'], 0)} s)",
            f"0 calls, < {fmt(reruns['target_rerun_s'], 0)} s",
        ),
        (
            f"query overhead at {overhead['excerpts']:,} excerpts + graph, p50 ms",
            modes,
            "< 20 ms standard, < 60 ms graph modes",
        ),
        _refresh_row(overhead),
        _cold_start_row(load("cold_start")),
        _doc_scaling_row(load("doc_scaling")),
    ]


def _refresh_row(overhead: dict) -> Row:
    """What a reader pays after another process commits one document: the graph view's refresh as
    a share of each graph mode's retrieval p50, and the BM25 refresh.
    """
    view = overhead["modes"]["graph_view"]
    after = overhead["modes"]["after_document_commit"]["refresh_ms_p50"]
    shares = ", ".join(
        f"{mode} {100 * share:.0f}%"
        for mode, share in view["share_of_retrieval_p50"]["new_document"].items()
    )
    return (
        f"a reader's refresh after another process commits one document "
        f"({view['new_document']['changed_contributions']} graph contributions)",
        f"graph view {fmt(view['new_document']['refresh_ms_p50'], 1)} ms ({shares} of p50); "
        f"BM25 {fmt(after['bm25_ms'], 1)} ms; "
        f"full view rebuild {fmt(view['rebuild_ms'] / 1000, 1)} s",
        "view ≤ 10% of p50",
    )


def _doc_scaling_row(scaling: dict) -> Row:
    """Seconds per MB of one document ingested offline, per size, and their spread."""
    offline = [(n, r) for n, r in scaling["documents"].items() if n.startswith("offline")]
    sizes = "; ".join(
        f"{name.removeprefix('offline ').removesuffix(' B')} B {fmt(row['s_per_mb'], 0)}"
        for name, row in offline
    )
    falling = offline[0][1]["s_per_mb"] > offline[-1][1]["s_per_mb"]
    direction = " (highest at the smallest size)" if falling else ""
    return (
        "one document ingested offline, seconds per MB by its size",
        f"{sizes}; max / min {fmt(scaling['offline_s_per_mb_max_over_min'], 2)}{direction}",
        f"≤ {fmt(scaling['target_ratio'], 1)}× across sizes",
    )


def _cold_start_row(cold: dict) -> Row:
    """A new process's first answer: the whole ``smolrag-lab query`` process per mode, median."""
    modes = "; ".join(f"{mode} {fmt(v['median_s'], 2)}" for mode, v in cold["query"].items())
    return (
        "cold start on the demo index: whole-process `smolrag-lab query`, median s",
        f"{modes}; `import smolrag_lab` {fmt(cold['import_smolrag_lab']['median_s'], 2)} s",
        "≤ 2 s query, ≤ 0.5 s import",
    )


def _performance() -> str:
    embedder = load("embedder")
    rows = [*_vector_search_rows(), *_ingest_rows(), *_query_rows()]
    grouping = embedder["length_grouping"]
    rows.append(
        (
            "local embedder, demo excerpts + summaries",
            f"grouped by length {fmt(grouping['grouped_chunks_per_s'])} chunks/s against "
            f"{fmt(grouping['naive_chunks_per_s'])} naive; one query "
            f"{fmt(embedder['single_query_ms_p50'], 2)} ms",
            "",
        )
    )
    return markdown(("benchmark", "measured", "target"), rows)


def _notebooks() -> str:
    """Each notebook's first run (fresh lab index, in order, as ``make report`` runs them)."""
    runs = {mode: _maybe_load(f"notebooks_{mode}") for mode in ("quick", "full")}
    names = sorted({name for run in runs.values() if run for name in run["seconds"]})
    rows = [
        (f"`{name.removesuffix('.ipynb')}`",)
        + tuple(
            _duration(run["seconds"].get(name)) if run else "not measured" for run in runs.values()
        )
        for name in names
    ]
    lines = [markdown(("notebook", "quick mode", "full mode"), rows)]
    lines += [f"{mode}: {machine_line(run)}" for mode, run in runs.items() if run]
    return "\n\n".join(lines)


def _maybe_load(name: str) -> dict[str, Any] | None:
    return load(name) if (RESULTS / f"{name}.json").exists() else None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _executors() -> str:
    rows = [
        (run["executor"], fmt(run["wall_s"]), fmt(run["coordinator_cpu_s"]))
        for run in load("executors")["runs"]
    ]
    return markdown(("executor", "wall s", "CPU s in the coordinating process"), rows)


def _vector_options() -> str:
    rows = [
        (
            name,
            fmt(v["p50_ms"], 2),
            fmt(v["recall@10"], 3),
            fmt(v["disk_mb"], 0),
            fmt(v["mapped_resident_mb"], 0),
            fmt(v["rss_anon_mb"], 0),
            fmt(v["build_s"]),
        )
        for name, v in load("vector_options")["variants"].items()
    ]
    header = ("variant", "p50 ms", "recall@10", "disk MB", "mapped resident MB", "RssAnon MB")
    return markdown((*header, "build s"), rows)


def _postgres() -> str:
    demo, synthetic = load("postgres")["demo"], load("postgres")["synthetic"]
    files, pg = demo["files"], demo["postgres"]
    rows = [
        (
            f"demo corpus ingestion ({files['excerpts']:,} excerpts, "
            f"{files['entities']:,} entities)",
            f"{fmt(files['ingest_s'])} s",
            f"{fmt(pg['ingest_s'])} s",
        )
    ]
    for mode, f_lat in files["retrieval_ms"].items():
        p_lat = pg["retrieval_ms"][mode]
        rows.append(
            (
                f"retrieval p50 / p95 ms: {mode}",
                f"{fmt(f_lat['p50'])} / {fmt(f_lat['p95'])}",
                f"{fmt(p_lat['p50'])} / {fmt(p_lat['p95'])}",
            )
        )
    rows += [
        (
            f"{synthetic['rows']:,} × {synthetic['dim']} synthetic vectors: top-10 p50 / p95",
            f"exact scan {fmt(synthetic['file_exact_p50_ms'])} ms",
            f"HNSW {fmt(synthetic['pgvector_hnsw_p50_ms'], 2)} / "
            f"{fmt(synthetic['pgvector_hnsw_p95_ms'], 2)} ms",
        ),
        ("recall@10 against exact search", "1.000", fmt(synthetic["recall@10"], 3)),
        (
            f"loading the {synthetic['rows']:,} vectors",
            "",
            f"{fmt(synthetic['load_with_hnsw_s'], 0)} s",
        ),
    ]
    return markdown(("", "files", "PostgreSQL"), rows)


def _real_model() -> str:
    from benchmarks.real_model import table as real_model_table

    result = load("real_model")
    return f"Model `{result['model']}`, documents {', '.join(result['documents'])}.\n\n" + (
        real_model_table(result)
    )


def _retrieval() -> str:
    from benchmarks.retrieval_report import markdown as retrieval_markdown

    return retrieval_markdown(load("retrieval"))


TABLES: dict[str, Callable[[], str]] = {
    "retrieval": _retrieval,
    "performance": _performance,
    "options_smolrag_docs": lambda: _options("smolrag_docs"),
    "options_cranfield": lambda: _options("cranfield"),
    "api_load": _api_load,
    "load_test": _load_test,
    "executors": _executors,
    "vector_options": _vector_options,
    "postgres": _postgres,
    "notebooks": _notebooks,
    "real_model": _real_model,
}
SELF_SOURCED = {"notebooks"}  # tables that say where each of their parts was measured
SOURCES = {
    "load_test": "options",
    "options_smolrag_docs": "options",
    "options_cranfield": "options",
    "performance": "vector_search",
}


def table(name: str) -> str:
    """The named table followed by the line saying where its figures were measured."""
    if name in SELF_SOURCED:
        return TABLES[name]()
    source = load(SOURCES.get(name, name))
    return TABLES[name]() + "\n\n" + machine_line(source)


def cog_table(name: str) -> None:
    """Write :func:`table` into the cog block being generated."""
    import cog  # cogapp: only present while cog runs

    cog.outl(table(name))


def cli_help(*command: str) -> None:
    """``smolrag-lab [COMMAND] --help`` as the README shows it, at a fixed width."""
    import cog

    from smolrag_lab.cli import build_parser

    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    if command:
        parser = parser._subparsers._group_actions[0].choices[command[0]]  # type: ignore[union-attr]  # argparse keeps subparsers private
    cog.outl("```text\n" + parser.format_help().rstrip() + "\n```")
