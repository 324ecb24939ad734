"""Writing a benchmark run: report.json, a per-query CSV, a Markdown summary and PNG charts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from .harness import BenchmarkRun
from .paired import delta_cell

HEADLINE = ("ndcg@10", "recall@10", "precision@5", "hit@5", "span@5", "mrr")
ANSWER_HEADLINE = (
    "answer_f1",
    "rouge_l",
    "semantic_f1",
    "span_recall",
    "groundedness",
    "citation_precision",
    "citation_recall",
    "uncited",
    "no_answer",
    "answer_words",
    "answer_context_tokens",
)


def write_reports(run: BenchmarkRun, out_dir: str | Path, charts: bool = True) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = run.report()
    files = {
        "report": out / "report.json",
        "per_query": out / "per_query.csv",
        "summary": out / "summary.md",
    }
    files["report"].write_text(json.dumps(report, indent=2, default=str) + "\n")
    with files["per_query"].open("w", newline="", encoding="utf-8") as handle:
        fields = list(dict.fromkeys(k for row in run.rows for k in row))
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(run.rows)
    files["summary"].write_text(markdown_summary(report))
    if charts:
        from ..lab.plots import save_benchmark_charts

        files.update(save_benchmark_charts(report, out))
    return files


def results_table(report: dict[str, Any]) -> str:
    """One Markdown row per mode and baseline: the headline metrics, nDCG@10's 95% interval and its
    paired difference from the reference system (marked when within noise), retrieval latency.
    """
    columns = [
        m
        for m in HEADLINE
        if any(
            m in v and v[m] is not None for v in {**report["modes"], **report["baselines"]}.values()
        )
    ]
    reference = report.get("reference")
    extra = ["ndcg@10 95% CI", f"Δ ndcg@10 vs {reference} [95% CI]"] if reference else []
    lines = [
        "| system | " + " | ".join(columns + extra) + " | p50 ms | p95 ms |",
        "|---" * (len(columns) + len(extra) + 3) + "|",
    ]
    for group in ("modes", "baselines"):
        for name, values in report[group].items():
            label = name if group == "modes" else f"baseline: {name}"
            cells = [f"{values[m]:.3f}" if values.get(m) is not None else "" for m in columns]
            if extra:
                low, high = values.get("ci", {}).get("ndcg@10", (float("nan"),) * 2)
                cells.append(f"[{low:.3f}, {high:.3f}]")
                cells.append(delta_cell(values.get("vs_reference", {}).get("ndcg@10")))
            lat = values["latency_ms"]
            lines.append(
                f"| {label} | " + " | ".join(cells) + f" | {lat['p50']:.1f} | {lat['p95']:.1f} |"
            )
    return "\n".join(lines)


def answers_table(report: dict[str, Any]) -> str:
    """One Markdown row per mode with the answer metrics it has ("" when answers were not scored;
    without reference answers, the reference-free ones only).
    """
    modes = report["modes"]
    columns = [m for m in ANSWER_HEADLINE if any(v.get(m) is not None for v in modes.values())]
    if not columns:
        return ""
    header = " | ".join(m.replace("_", " ") for m in columns)  # words wrap; snake_case does not
    lines = ["| mode | " + header + " |", "|---" * (len(columns) + 1) + "|"]
    for name, values in modes.items():
        cells = [
            ""
            if values.get(m) is None
            else f"{values[m]:,.0f}"
            if values[m] >= 10
            else f"{values[m]:.3f}"
            for m in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _judge_section(judged: dict[str, Any] | None) -> list[str]:
    if not judged:
        return []
    if "modes" not in judged:
        return ["## Judge", "", f"Not run: {judged.get('skipped')}.", ""]
    from .judge import judge_table

    cost = judged["cost"]
    return [
        "## Judge",
        "",
        f"{judged['cases']} answers, {judged['runs']} runs (mean ± standard deviation across "
        f"runs); {cost['calls']} calls, about {cost['prompt_tokens']} prompt tokens, "
        f"${cost['estimated_cost_usd']:.4f} before cache hits; unreadable replies: "
        f"{judged['unreadable']}.",
        "",
        judge_table(judged),
        "",
    ]


def markdown_summary(report: dict[str, Any]) -> str:
    ingest = report["ingest"]
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in ingest.get("stage_seconds", {}).items())
    return "\n".join(
        [
            f"# Benchmark: {report['dataset']}",
            "",
            f"{report['queries']} queries; cut-offs {report['ks']}; "
            f"settings {json.dumps(report['settings'])}.",
            "",
            results_table(report),
            "",
            *(["## Answers", "", answers, ""] if (answers := answers_table(report)) else []),
            *_judge_section(report.get("judge")),
            "## Ingestion",
            "",
            f"- documents: {ingest['documents']}",
            f"- excerpts {ingest['excerpts']}, entities {ingest['entities']}, "
            f"relationships {ingest['relationships']}",
            f"- wall {ingest['wall_seconds']:.1f}s; by stage: {stages}",
            f"- peak memory {ingest['peak_memory_mb']} MB ({ingest['memory_source']}); "
            f"disk {sum(ingest['disk_bytes'].values()) / 1e6:.1f} MB",
            f"- provider calls: {ingest['provider_calls']}; "
            f"estimated API cost: {ingest['estimated_cost_usd']}",
            "",
        ]
    )
