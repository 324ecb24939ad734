"""HTML views of query results: the answer with numbered, linked sources, the context by section with
token counts, and the latency breakdown; plus a side-by-side comparison of modes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from ..engine import QueryResult, SmolRag
from ..query.retrieval import MODES

_CITATION = re.compile(r"\[(\d+)\]")
_STYLE = (
    "<style>.srl-sources li{margin:.3em 0}.srl-meta{color:#666;font-size:90%}"
    ".srl-answer{white-space:pre-wrap;border-left:3px solid #4a7;padding:.3em .8em;margin:.5em 0}"
    ".srl-cols{display:flex;gap:1em;align-items:flex-start}.srl-cols>div{flex:1;min-width:0}</style>"
)


def context_breakdown(result: QueryResult) -> pd.DataFrame:
    """Tokens and items per context section (entities, relationships, vector and graph excerpts)."""
    counts = result.token_counts
    origins = [s.origin for s in result.sources]
    rows = [
        ("entities", len(result.entities), counts.get("entities", 0)),
        ("relationships", len(result.relationships), counts.get("relationships", 0)),
        ("excerpts (vector)", origins.count("vector"), counts.get("vector_excerpts", 0)),
        (
            "excerpts (graph)",
            len(origins) - origins.count("vector"),
            counts.get("graph_excerpts", 0),
        ),
    ]
    frame = pd.DataFrame(rows, columns=["section", "items", "tokens"])
    frame = frame[(frame["items"] > 0) | (frame["tokens"] > 0)].reset_index(drop=True)
    total = pd.DataFrame(
        [("total (with headers)", int(frame["items"].sum()), counts.get("total", 0))],
        columns=frame.columns,
    )
    return pd.concat([frame, total], ignore_index=True)


def _linked_answer(answer: str, anchor: str) -> str:
    """Escape the answer and turn ``[n]`` citations into links to the numbered sources."""
    return _CITATION.sub(
        lambda m: f'<a href="#{anchor}-{m.group(1)}">[{m.group(1)}]</a>', html.escape(answer)
    )


def sources_html(result: QueryResult, anchor: str = "src", limit: int | None = None) -> str:
    items = []
    for s in result.sources[:limit]:
        items.append(
            f'<li id="{anchor}-{s.number}"><b>[{s.number}] {html.escape(s.document)}</b> '
            f'<span class="srl-meta">score {s.score:.3f} · via {html.escape(s.origin)} · {html.escape(s.excerpt_id)}</span>'
            f"<details><summary>{html.escape(s.summary[:160])}</summary><pre style='white-space:pre-wrap'>"
            f"{html.escape(s.text)}</pre></details></li>"
        )
    return f'<ol class="srl-sources" style="list-style:none;padding-left:0">{"".join(items)}</ol>'


def latency_line(result: QueryResult) -> str:
    parts = [f"{k.removesuffix('_ms')} {v:.1f} ms" for k, v in result.timings_ms.items()]
    return " · ".join(parts) + (" · from the query cache" if result.cached else "")


def result_html(result: QueryResult, anchor: str = "src") -> str:
    """The whole result: answer, latency, context breakdown and sources."""
    table = context_breakdown(result).to_html(index=False, border=0)
    return (
        f"{_STYLE}<h4>{html.escape(result.mode)}: {html.escape(result.question)}</h4>"
        f'<div class="srl-answer">{_linked_answer(result.answer, anchor)}</div>'
        f'<p class="srl-meta">{html.escape(latency_line(result))}</p>'
        f"<b>Context by section</b>{table}<b>Sources</b>{sources_html(result, anchor)}"
    )


def compare_modes(
    rag: SmolRag, question: str, modes: Sequence[str] = MODES, **overrides: Any
) -> tuple[pd.DataFrame, dict[str, QueryResult]]:
    """Run ``question`` in every mode: a summary table (latency, sources, tokens, top documents) and the results."""
    results = {mode: rag.query(question, mode, **overrides) for mode in modes}
    rows = [
        {
            "mode": mode,
            "total ms": r.timings_ms.get("total_ms", 0.0),
            "retrieval ms": r.timings_ms.get("retrieval_ms", 0.0),
            "sources": len(r.sources),
            "entities": len(r.entities),
            "relationships": len(r.relationships),
            "context tokens": r.token_counts.get("total", 0),
            "top documents": ", ".join(dict.fromkeys(s.document for s in r.sources[:5])),
        }
        for mode, r in results.items()
    ]
    return pd.DataFrame(rows), results


def compare_html(results: dict[str, QueryResult], sources_shown: int = 5) -> str:
    """The modes' answers and top sources in side-by-side columns."""
    columns = []
    for mode, r in results.items():
        columns.append(
            f"<div><h4>{html.escape(mode)}</h4>"
            f'<div class="srl-answer">{_linked_answer(r.answer, f"cmp-{mode}")}</div>'
            f'<p class="srl-meta">{r.timings_ms.get("total_ms", 0.0):.1f} ms · '
            f"{r.token_counts.get('total', 0)} context tokens</p>"
            f"{sources_html(r, f'cmp-{mode}', sources_shown)}</div>"
        )
    return f'{_STYLE}<div class="srl-cols">{"".join(columns)}</div>'
