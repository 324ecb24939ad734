"""HTML views of query results: the answer with numbered sources (citations jump to and highlight
their own answer's source), one score column per kind, what each control bounded, the ``auto``
decision, a timeline of the query's steps; plus a side-by-side comparison of modes with warm-cache
latency.
"""

from __future__ import annotations

import html
import re
import statistics
import uuid
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..engine import QueryResult, SmolRag
from ..query.retrieval import MODES
from .tables import text_preview

_CITATION = re.compile(r"\[(\d+)\]")
_GRAPH_ORIGINS = ("entity", "relationship")
_ORIGIN_LABELS = {
    "vector": "vector only",
    "bm25": "BM25 only",
    "vector+bm25": "vector + BM25",
    "entity": "graph (entity)",
    "relationship": "graph (relationship)",
}
# Score kinds, in column order: (key, column header, scale shown under the table).
SCORE_KINDS = (
    ("cosine", "cosine", "cosine similarity of question and excerpt embeddings, -1 to 1"),
    ("bm25", "BM25", "lexical match, 0 and up, comparable only within one query"),
    ("rrf", "fused (RRF)", "reciprocal rank fusion: sum of 1/(k+rank), at most 2/(k+1)"),
    ("graph", "graph cosine", "cosine of the keywords and the entity/relationship that led here"),
)
# Scoped under .srl-result so that, shown as a plain output, JupyterLab's own table rules
# (.jp-RenderedHTMLCommon td: right-aligned, equal specificity) do not override them.
_STYLE = (
    "<style>.srl-result{line-height:1.4}.srl-meta{color:#555;font-size:90%}"
    ".srl-answer{white-space:pre-wrap;border-left:3px solid #4a7;padding:.3em .8em;margin:.5em 0}"
    ".srl-cols{display:flex;gap:1em;align-items:flex-start}"
    ".srl-cols>div{flex:1;min-width:0;overflow-x:auto}"
    ".srl-result .srl-src{border-collapse:collapse;width:100%;font-size:90%;table-layout:auto}"
    ".srl-result .srl-src td,.srl-result .srl-src th{padding:2px 6px;text-align:left;"
    "vertical-align:top;border-bottom:1px solid #eee}"
    ".srl-result .srl-src td.num{text-align:right;font-variant-numeric:tabular-nums}"
    ".srl-result .srl-src td.srl-text{width:55%}"
    ".srl-result .srl-src tr.srl-cited,.srl-result .srl-src tr:target{background:#fff3b0;"
    "outline:2px solid #e0a800}"
    ".srl-src pre{white-space:pre-wrap;word-break:normal;overflow-wrap:anywhere;margin:.3em 0;"
    "max-height:24em;overflow:auto}"
    ".srl-trace{display:flex;height:18px;font-size:11px;margin:.3em 0;width:100%}"
    ".srl-trace div{overflow:hidden;white-space:nowrap;color:#fff;padding:0 3px;"
    "border-right:1px solid #fff}"
    "</style>"
)
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
_TRACE_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_JUMP = (
    "var r=this.closest('.srl-result');r.querySelectorAll('.srl-cited').forEach("
    "function(e){{e.classList.remove('srl-cited')}});var t=r.querySelector('#{target}');"
    "if(t){{t.classList.add('srl-cited');t.querySelector('details').open=true;"
    "t.scrollIntoView({{block:'nearest'}});}}return false;"
)


def new_anchor(prefix: str = "srl") -> str:
    """An id prefix unique to one rendering, so ``[2]`` in one answer never jumps to another's
    source.
    """
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def source_scores(source: Any) -> dict[str, float]:
    """A source's scores by kind; graph excerpts carry the cosine of the item that led to them."""
    if source.origin in _GRAPH_ORIGINS:
        return {"graph": source.score}
    return dict(getattr(source, "scores", None) or {"cosine": source.score})


def context_breakdown(result: QueryResult, settings: Any = None) -> pd.DataFrame:
    """Tokens and items per context section, with the budget that bounds each section when known."""
    counts = result.token_counts
    graph = sum(1 for s in result.sources if s.origin in _GRAPH_ORIGINS)
    rows = [
        ("entities", len(result.entities), counts.get("entities", 0), "entity_token_budget"),
        (
            "relationships",
            len(result.relationships),
            counts.get("relationships", 0),
            "relationship_token_budget",
        ),
        (
            "excerpts (vector + BM25)",
            len(result.sources) - graph,
            counts.get("vector_excerpts", 0),
            "excerpt_token_budget",
        ),
        ("excerpts (graph)", graph, counts.get("graph_excerpts", 0), "kg_excerpt_token_budget"),
    ]
    frame = pd.DataFrame(
        [
            (name, items, tokens, getattr(settings, knob, None) if settings else None)
            for name, items, tokens, knob in rows
        ],
        columns=["section", "items", "tokens", "budget (tokens)"],
    )
    frame = frame[(frame["items"] > 0) | (frame["tokens"] > 0)].reset_index(drop=True)
    total = pd.DataFrame(
        [("total (with headers)", int(frame["items"].sum()), counts.get("total", 0), None)],
        columns=frame.columns,
    )
    frame = pd.concat([frame, total], ignore_index=True)
    frame["budget (tokens)"] = frame["budget (tokens)"].map(
        lambda v: "" if v is None else _thousands(v)
    )
    return frame


def _thousands(value: Any) -> str:
    return f"{int(value):,}"


def _linked_answer(answer: str, anchor: str) -> str:
    """Escape the answer and turn ``[n]`` citations into links to this answer's numbered sources."""

    def link(match: re.Match) -> str:
        target = f"{anchor}-{match.group(1)}"
        return (
            f'<a href="#{target}" class="srl-cite" data-target="{target}" '
            f'onclick="{_JUMP.format(target=target)}">[{match.group(1)}]</a>'
        )

    return _CITATION.sub(link, html.escape(answer))


def _score_cell(scores: dict[str, float], kind: str) -> str:
    value = scores.get(kind)
    if value is None:
        return '<td class="num">-</td>'
    return (
        f'<td class="num">{value:.4f}</td>'
        if kind == "rrf"
        else f'<td class="num">{value:.3f}</td>'
    )


def sources_html(
    result: QueryResult, anchor: str, limit: int | None = None, scores: bool = True
) -> str:
    """The sources as a table: one score column per kind, the excerpt as text, the full text folded
    (a citation click unfolds and highlights it). ``scores=False`` gives the narrow layout of the
    side-by-side columns: number, then document, origin and excerpt in one cell.
    """
    rows = []
    for s in result.sources[:limit]:
        origin = _ORIGIN_LABELS.get(s.origin, s.origin)
        excerpt = (
            f"<details><summary>{html.escape(text_preview(s.text, 140))}</summary>"
            f'<pre>{html.escape(s.text)}</pre><div class="srl-meta">summary: '
            f"{html.escape(s.summary)} · {html.escape(s.excerpt_id)}</div></details>"
        )
        if scores:
            values = source_scores(s)
            cells = "".join(_score_cell(values, kind) for kind, _, _ in SCORE_KINDS)
            body = (
                f"<td>{html.escape(s.document)}</td><td>{origin}</td>"
                f'{cells}<td class="srl-text">{excerpt}</td>'
            )
        else:
            doc = html.escape(s.document)
            body = f'<td>{doc} <span class="srl-meta">{origin}</span>{excerpt}</td>'
        rows.append(
            f'<tr id="{anchor}-{s.number}" data-source="{s.number}"><td><b>[{s.number}]</b></td>'
            f"{body}</tr>"
        )
    if not scores:
        return f'<table class="srl-src"><tr><th>#</th><th>source</th></tr>{"".join(rows)}</table>'
    header = "".join(f"<th>{title}</th>" for _, title, _ in SCORE_KINDS)
    scales = " · ".join(f"<b>{title}</b>: {scale}" for _, title, scale in SCORE_KINDS)
    return (
        f'<table class="srl-src"><tr><th>#</th><th>document</th><th>found by</th>{header}'
        f"<th>excerpt (click to expand)</th></tr>{''.join(rows)}</table>"
        f'<p class="srl-meta">{scales}. Sources are ordered as the context lists them.</p>'
    )


def bounds_line(result: QueryResult, settings: Any = None) -> str:
    """What each control bounded: top-k caps the vector + BM25 half, the graph half adds excerpts up
    to its own budget, and the total is the sum of the per-section budgets.
    """
    graph = sum(1 for s in result.sources if s.origin in _GRAPH_ORIGINS)
    counts = result.token_counts
    if settings is None:
        return f"{len(result.sources) - graph} excerpts from vector + BM25, {graph} from the graph"
    budgets = (
        settings.entity_token_budget
        + settings.relationship_token_budget
        + settings.excerpt_token_budget
        + settings.kg_excerpt_token_budget
    )
    return (
        f"top-k {settings.excerpt_top_k} → {len(result.sources) - graph} excerpts from "
        "vector + BM25 "
        f"({counts.get('vector_excerpts', 0):,} of {settings.excerpt_token_budget:,} tokens); "
        f"the graph half added {graph} excerpts ({counts.get('graph_excerpts', 0):,} of "
        f"{settings.kg_excerpt_token_budget:,} tokens). Budgets are per section: the context holds "
        f"{counts.get('total', 0):,} tokens of at most {budgets:,} (entities, relationships and "
        "both "
        "excerpt sections, plus headers)."
    )


def auto_line(result: QueryResult) -> str:
    """With query type ``auto``: which mode it chose and why; empty otherwise."""
    if not result.plan:
        return ""
    return (
        f'<p class="srl-auto"><b>auto chose {html.escape(result.mode)}</b>: '
        f"{html.escape(result.plan)}</p>"
    )


def trace_html(result: QueryResult) -> str:
    """The query's steps (keywords, embed, searches, context, answer) as one bar, widths in time."""
    steps = [
        (k.removesuffix("_ms"), v)
        for k, v in result.timings_ms.items()
        if k not in ("total_ms", "retrieval_ms") and v > 0
    ]
    total = sum(v for _, v in steps) or 1.0
    parts = "".join(
        f'<div title="{name}: {ms:,.1f} ms" style="flex:{ms / total:.4f};'
        f'background:{_TRACE_COLOURS[i % len(_TRACE_COLOURS)]}">{name} {ms:,.0f} ms</div>'
        for i, (name, ms) in enumerate(steps)
    )
    cached = " (from the query cache)" if result.cached else ""
    return (
        f'<div class="srl-meta">timeline: {result.timings_ms.get("total_ms", total):,.1f} ms in all'
        f'{cached}</div><div class="srl-trace">{parts}</div>'
    )


def latency_line(result: QueryResult) -> str:
    parts = [f"{k.removesuffix('_ms')} {v:,.1f} ms" for k, v in result.timings_ms.items()]
    return " · ".join(parts) + (" · from the query cache" if result.cached else "")


def result_html(result: QueryResult, anchor: str | None = None, settings: Any = None) -> str:
    """The whole result: the ``auto`` decision, answer, step timeline, what the controls bounded,
    context by section, and sources.
    """
    anchor = anchor or new_anchor()
    table = context_breakdown(result, settings).to_html(
        index=False, border=0, formatters={c: _thousands for c in ("items", "tokens")}
    )
    return (
        f'{_STYLE}<div class="srl-result" id="{anchor}">'
        f"<h4>{html.escape(result.mode)}: {html.escape(result.question)}</h4>{auto_line(result)}"
        f'<div class="srl-answer">{_linked_answer(result.answer, anchor)}</div>'
        f'{trace_html(result)}<p class="srl-meta">{html.escape(bounds_line(result, settings))}</p>'
        f"<b>Context by section</b>{table}<b>Sources</b>{sources_html(result, anchor)}</div>"
    )


def compare_modes(
    rag: SmolRag, question: str, modes: Sequence[str] = MODES, repeats: int = 3, **overrides: Any
) -> tuple[pd.DataFrame, dict[str, QueryResult]]:
    """Run ``question`` in every mode. The first run of each mode is the cold start (models loaded,
    indexes built, caches empty); then ``repeats`` runs with the query cache off give the warm
    latency (median). Returns a summary table and each mode's last result.
    """
    from ..progress import progress_bar

    results, rows = {}, []
    with progress_bar(len(modes) * (1 + repeats), "modes", "query") as bar:
        for mode in modes:
            cold = rag.query(question, mode, **overrides)
            bar.update(1)
            warm = []
            for _ in range(repeats):
                results[mode] = rag.query(question, mode, query_cache=False, **overrides)
                warm.append(results[mode].timings_ms)
                bar.update(1)
            result = results.setdefault(mode, cold)
            rows.append(_compare_row(mode, cold, warm or [cold.timings_ms], result))
    return pd.DataFrame(rows), results


def _compare_row(
    mode: str, cold: QueryResult, warm: list[dict[str, float]], result: QueryResult
) -> dict[str, Any]:
    def median(key: str) -> float:
        return round(statistics.median(t.get(key, 0.0) for t in warm), 1)

    return {
        "mode": mode + (f" → {result.mode}" if result.plan else ""),
        "warm total ms": median("total_ms"),
        "warm retrieval ms": median("retrieval_ms"),
        "cold start ms": round(cold.timings_ms.get("total_ms", 0.0), 1),
        "sources": len(result.sources),
        "entities": len(result.entities),
        "relationships": len(result.relationships),
        "context tokens": result.token_counts.get("total", 0),
        "top documents": ", ".join(dict.fromkeys(s.document for s in result.sources[:5])),
    }


def compare_html(results: dict[str, QueryResult], sources_shown: int = 5) -> str:
    """The modes' answers and top sources in side-by-side columns (each with anchors of its own;
    the score columns are left to the single-result view, which has the width for them).
    """
    columns = []
    for mode, r in results.items():
        anchor = new_anchor(f"cmp-{mode}")
        columns.append(
            f'<div class="srl-result" id="{anchor}"><h4>{html.escape(mode)}</h4>{auto_line(r)}'
            f'<div class="srl-answer">{_linked_answer(r.answer, anchor)}</div>'
            f'<p class="srl-meta">{r.timings_ms.get("total_ms", 0.0):,.1f} ms · '
            f"{r.token_counts.get('total', 0):,} context tokens</p>"
            f"{sources_html(r, anchor, sources_shown, scores=False)}</div>"
        )
    return f'{_STYLE}<div class="srl-cols">{"".join(columns)}</div>'


def history_table(results: Sequence[QueryResult]) -> pd.DataFrame:
    """A session's queries side by side: mode (what ``auto`` chose), sources, tokens, latency."""
    return pd.DataFrame(
        [
            {
                "question": text_preview(r.question, 80),
                "mode": r.mode,
                "auto reason": r.plan or "",
                "sources": len(r.sources),
                "context tokens": r.token_counts.get("total", 0),
                "total ms": round(r.timings_ms.get("total_ms", 0.0), 1),
                "cached": r.cached,
                "top documents": ", ".join(dict.fromkeys(s.document for s in r.sources[:3])),
            }
            for r in results
        ]
    )
