"""What is in an index, as pandas tables: documents, excerpts, entities, relationships, ingestion
stages; and the helpers that make any table readable (text previews without raw newlines, human
units, rounded numbers, wrapped long text, dicts as tables, blanks instead of NaN for unset values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine import SmolRag
from ..eval.paired import delta_cell
from ..eval.sweep import SWEEP_ANSWER_METRICS, SWEEP_METRICS
from ..ingest.graph_merge import entity_view, relationship_view
from ..ingest.report import IngestReport
from ..settings import Settings

_SPACE = re.compile(r"\s+")


def text_preview(text: str, limit: int = 200) -> str:
    """``text`` on one line (newlines and runs of spaces as one space), cut at a word near
    ``limit``.
    """
    flat = _SPACE.sub(" ", str(text)).strip()
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    cut = cut[:space] if space > limit // 2 else cut
    return cut.rstrip(" ,.;:") + " …"


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"


def human_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:,.0f} ms"
    return f"{s:,.1f} s" if s < 120 else f"{int(s // 60)} min {s % 60:02.0f} s"


def show(frame: pd.DataFrame, wrap: int = 60, digits: int = 3) -> Any:
    """A table for display: numbers rounded (thousands separated; ``digits`` significant below 10),
    unset values blank instead of NaN, text wrapped in its column instead of cut, no index.
    """

    def number(value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.{digits}g}"

    numeric = frame.select_dtypes("number").columns
    styler = frame.style.format(number, subset=list(numeric)).format(
        lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else v,
        subset=[c for c in frame.columns if c not in numeric],
    )
    return styler.hide(axis="index").set_properties(
        **{"white-space": "normal", "max-width": f"{wrap}ch", "text-align": "left"}
    )


def dict_table(data: Mapping[str, Any], key: str = "name", value: str = "value") -> pd.DataFrame:
    """A dict (nested dicts flattened as ``outer / inner``) as a two-column table; byte counts in
    human units, None as blank.
    """
    rows: list[tuple[str, Any]] = []

    def walk(prefix: str, item: Any) -> None:
        if isinstance(item, Mapping):
            for k, v in item.items():
                walk(f"{prefix} / {k}" if prefix else str(k), v)
        elif prefix.endswith("bytes") or "bytes /" in prefix:
            rows.append((prefix.replace("bytes", "size"), human_bytes(float(item))))
        else:
            rows.append((prefix, "" if item is None else _plain(item)))

    walk("", data)
    return pd.DataFrame(rows, columns=[key, value])


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(map(str, value))
    return value if isinstance(value, (int, str, bool)) else str(value)


def _setting_value(value: Any) -> Any:
    """A setting's value in full: small floats (prices per 1k tokens) not rounded away."""
    if isinstance(value, float):
        return f"{value:g}"
    return _plain(value)


def documents_table(rag: SmolRag) -> pd.DataFrame:
    rows = [
        {
            "document": Path(d["source"]).name,
            "title": d.get("title", ""),
            "characters": d.get("chars", 0),
            "excerpts": len(d.get("excerpt_ids", [])),
            "entities": len(d.get("entity_keys", [])),
            "relationships": len(d.get("relationship_pairs", [])),
            "doc_id": doc_id,
        }
        for doc_id, d in rag.index.documents.items()
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "document",
            "title",
            "characters",
            "excerpts",
            "entities",
            "relationships",
            "doc_id",
        ],
    ).sort_values("document", ignore_index=True)


def excerpts_table(rag: SmolRag, preview: int = 10**9) -> pd.DataFrame:
    """Excerpts in document order; ``text`` and ``summary`` on one line (cut near ``preview``
    chars).
    """
    rows = [
        {
            "excerpt_id": key,
            "document": Path(e["source"]).name,
            "index": e.get("index", 0),
            "tokens": e.get("tokens", rag.tokens.count(e["text"])),
            "text": text_preview(e["text"], preview),
            "summary": text_preview(e["summary"], preview),
        }
        for key, e in rag.index.excerpts.items()
    ]
    frame = pd.DataFrame(
        rows, columns=["excerpt_id", "document", "index", "tokens", "text", "summary"]
    )
    return frame.sort_values(["document", "index"], ignore_index=True)


def entities_table(
    rag: SmolRag, limit: int | None = None, include_code: bool = False, preview: int = 300
) -> pd.DataFrame:
    """Entities by degree (most connected first); code identifiers and file names (types ``code``,
    ``file``) only with ``include_code``. Descriptions on one line, cut near ``preview`` characters.
    """
    from .graph_view import HIDDEN_KINDS, entity_kind, graph_of

    graph, cap = graph_of(rag), rag.settings.description_cap
    rows = []
    for key in graph.nodes:
        view = entity_view(graph, key, cap)
        kind = entity_kind(view)
        if kind in HIDDEN_KINDS and not include_code:
            continue
        rows.append(
            {
                "entity": view["name"],
                "type": kind,
                "degree": view["degree"],
                "excerpts": len(view["excerpt_ids"]),
                "documents": len(graph.nodes[key].get("descriptions", {})),
                "description": text_preview(view["description"], preview),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["entity", "type", "degree", "excerpts", "documents", "description"]
    )
    frame = frame.sort_values(["degree", "entity"], ascending=[False, True], ignore_index=True)
    return frame.head(limit) if limit else frame


def relationships_table(rag: SmolRag, limit: int | None = None) -> pd.DataFrame:
    """Relationships by weight (strongest first)."""
    from .graph_view import graph_of

    graph, s = graph_of(rag), rag.settings
    rows = []
    for pair in graph.edges:
        view = relationship_view(graph, pair, s.description_cap, s.keywords_cap)
        rows.append(
            {
                "source": view["source"],
                "target": view["target"],
                "weight": view["weight"],
                "keywords": ", ".join(view["keywords"][:5]),
                "excerpts": len(view["excerpt_ids"]),
                "description": text_preview(view["description"], 300),
            }
        )
    frame = pd.DataFrame(
        rows, columns=["source", "target", "weight", "keywords", "excerpts", "description"]
    )
    frame = frame.sort_values(["weight", "source"], ascending=[False, True], ignore_index=True)
    return frame.head(limit) if limit else frame


def stages_table(report: IngestReport | dict[str, Any]) -> pd.DataFrame:
    """Seconds per ingestion stage and their share of the summed stage time (stages overlap in time
    because documents are processed concurrently, so the sum can exceed the wall time).
    """
    counts = report.counts() if isinstance(report, IngestReport) else report
    seconds = counts.get("stage_seconds", {})
    frame = pd.DataFrame(
        {"stage": list(seconds), "seconds": [round(v, 2) for v in seconds.values()]}
    )
    total = frame["seconds"].sum()
    frame["share"] = (frame["seconds"] / total).round(3) if total else 0.0
    return frame


def stage_profile_table(profile: dict[str, Any]) -> pd.DataFrame:
    """The stages in human units: time, share of summed stage time in %, peak memory in MB (blank
    where no sample fell inside a stage, e.g. chunking measured outside the sampler).
    """
    frame = stages_table(profile)
    peaks = profile.get("stage_peak_memory_mb", {})
    return pd.DataFrame(
        {
            "stage": frame["stage"],
            "time": [human_seconds(v) for v in frame["seconds"]],
            "share of stage time": [f"{v:.0%}" for v in frame["share"]],
            "peak memory": [f"{peaks[s]:,.0f} MB" if s in peaks else "" for s in frame["stage"]],
        }
    )


_STORES = {
    "kv_bytes": "database (documents, excerpts, graph, caches)",
    "excerpt_vectors_bytes": "excerpt vectors",
    "entity_vectors_bytes": "entity vectors",
    "relationship_vectors_bytes": "relationship vectors",
}


def storage_and_cost_table(profile: dict[str, Any]) -> pd.DataFrame:
    """What the index takes on disk, store by store, and what the run's calls would have cost at
    the configured prices (tokens as counted; the local backends themselves cost nothing).
    """
    sizes = profile["disk_bytes"]
    cost = profile["estimated_cost_usd"]
    rows = [(_STORES.get(k, k.removesuffix("_bytes")), human_bytes(v)) for k, v in sizes.items()]
    rows.append(("on disk in all", human_bytes(sum(sizes.values()))))
    rows += [
        ("embedding tokens", f"{cost['embedding_tokens']:,}"),
        ("prompt tokens", f"{cost['prompt_tokens']:,}"),
        ("completion tokens", f"{cost['completion_tokens']:,}"),
        ("estimated API cost, embeddings", f"${cost['embedding_usd']:,.4f}"),
        ("estimated API cost, completions", f"${cost['completion_usd']:,.4f}"),
    ]
    return pd.DataFrame(rows, columns=["", "value"])


def provider_calls_table(stats: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per provider task (embeddings, summary, extraction, keywords, answer)."""
    columns = [
        "calls",
        "requests",
        "items",
        "prompt_tokens",
        "completion_tokens",
        "cache_hits",
        "errors",
        "retries",
    ]
    rows = [
        {"task": task, **{c: values.get(c, 0) for c in columns}} for task, values in stats.items()
    ]
    return pd.DataFrame(rows, columns=["task", *columns])


def settings_table(settings: Settings) -> pd.DataFrame:
    """Every setting with its concern and value (secrets masked), one row each: what notebook 00
    shows, safe to keep in a saved report.
    """
    described = settings.describe()
    rows = {
        name: {"concern": info["concern"], "value": _setting_value(info["value"])}
        for name, info in described.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


_SWEEP_INTERNAL = ("cutoff", "reference_cell", "within_noise", "ndcg_low", "ndcg_high", "p_ndcg")


def sweep_table(sweep: pd.DataFrame) -> pd.DataFrame:
    """A sweep's cells for reading: the two knobs, nDCG with its 95% interval and its paired
    difference from the default cell (marked within noise), then the other metrics rounded,
    context tokens whole and latency in ms.
    """
    measured = {*SWEEP_METRICS, *SWEEP_ANSWER_METRICS, *_SWEEP_INTERNAL}
    knobs = [c for c in sweep.columns if c not in measured and not c.startswith("delta_")]
    out = sweep[knobs].copy()
    out["ndcg [95% CI]"] = [
        f"{r['ndcg']:.3f} [{r['ndcg_low']:.3f}, {r['ndcg_high']:.3f}]" for _, r in sweep.iterrows()
    ]
    out["Δ ndcg vs default [95% CI]"] = [_sweep_delta(r) for _, r in sweep.iterrows()]
    for column in sweep.columns:
        if column in knobs or column in _SWEEP_INTERNAL or column.startswith("delta_"):
            continue
        if column == "context_tokens":
            out["context tokens"] = sweep[column].map(lambda v: f"{v:,.0f}")
        elif column == "latency_ms":
            out["latency"] = sweep[column].map(lambda v: human_seconds(v / 1000))
        elif column != "ndcg":
            out[column] = sweep[column].round(1 if column == "answer_words" else 3)
    return out


def _sweep_delta(row: pd.Series) -> str:
    if row["reference_cell"]:
        return "(default)"
    return delta_cell(
        {
            "delta": row["delta_ndcg"],
            "delta_low": row["delta_ndcg_low"],
            "delta_high": row["delta_ndcg_high"],
            "within_noise": row["within_noise"],
        }
    )


def monitor_table(summary: dict[str, dict[str, float]]) -> pd.DataFrame:
    """``PerformanceMonitor.summary()`` in human units, one row per measured operation."""
    return pd.DataFrame(
        [
            {
                "operation": name,
                "count": int(v["count"]),
                "wall p50": human_seconds(v["wall_ms_p50"] / 1000),
                "wall p95": human_seconds(v["wall_ms_p95"] / 1000),
                "CPU, all calls": human_seconds(v["cpu_s_total"]),
                "peak memory": f"{v['peak_rss_mb']:,.0f} MB",
                "provider calls": int(v["provider_calls"]),
            }
            for name, v in summary.items()
        ]
    )


def question_drilldown(rows: list[dict[str, Any]], items: list[Any], metric: str = "hit@5") -> Any:
    """One row per question, one column per system: ``metric`` for that question (✓/✗ for a hit
    metric) and where the first relevant document ranked among the top five retrieved, or, when
    none of them was relevant, which document came first. Questions with the lowest mean over
    systems come first, so failures are read first.
    """
    gold = {item.id: set(item.relevant) for item in items}
    binary = metric.startswith("hit@")
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        relevant = gold.get(row["id"], set())
        entry = table.setdefault(
            row["id"],
            {"question": text_preview(row["query"], 90), "relevant": ", ".join(sorted(relevant))},
        )
        value = float(row.get(metric) or 0.0)
        mark = ("✓" if value else "✗") if binary else f"{value:.2f}"
        entry[row["system"]] = f"{mark} {_drilldown_where(row['top_documents'], relevant)}"
        entry.setdefault("_scores", []).append(value)
    frame = pd.DataFrame(table.values())
    frame["_mean"] = frame.pop("_scores").map(lambda v: sum(v) / len(v))
    return frame.sort_values("_mean", kind="stable").drop(columns="_mean").reset_index(drop=True)


def _drilldown_where(top_documents: str, relevant: set[str]) -> str:
    """Where the first relevant document ranked in the top five (``top_documents``), else what
    came first instead.
    """
    top = top_documents.split("|") if top_documents else []
    if not relevant:
        return "no relevant document labelled"
    rank = next((i for i, d in enumerate(top, 1) if d in relevant), None)
    if rank:
        return f"rank {rank}"
    return f"not in top {len(top)}; first: {top[0]}" if top else "nothing retrieved"
