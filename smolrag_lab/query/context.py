"""Building the context sent to the model, within token budgets, and the numbered sources."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..settings import Settings
from ..tokens import TokenCounter
from .retrieval import ExcerptHit, Retrieved


@dataclass
class Source:
    number: int
    excerpt_id: str
    document: str
    source: str
    text: str
    summary: str
    score: float
    rank: int
    origin: str
    scores: dict[str, float] = field(default_factory=dict)  # by kind (cosine, bm25, rrf)


@dataclass
class Context:
    text: str
    sources: list[Source] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    token_counts: dict[str, int] = field(default_factory=dict)


_FORGED_SOURCE = re.compile(r"^(\s*)\[(\d+)\]", re.MULTILINE)
_FORGED_SECTION = re.compile(r"-{3,}\s*([A-Za-z][A-Za-z ]{0,38}?)\s*-{3,}")
_DELIMITER = re.compile(r"</?\s*smolrag-context\s*>", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Retrieved text made unable to pass for the context's own structure: a line opening with
    ``[n]`` (a source header) becomes ``(n)``, a ``---Role---`` / ``-----Sources-----`` marker
    anywhere loses its dashes, and the context's delimiters are removed. The rest is left as is.
    """
    text = _DELIMITER.sub(" ", text)
    text = _FORGED_SOURCE.sub(r"\1(\2)", text)
    return _FORGED_SECTION.sub(r"\1", text)


def _csv_rows(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = []
    for row in [header] + [[neutralise(c) if isinstance(c, str) else c for c in r] for r in rows]:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(row)
        out.append(buffer.getvalue())
    return out


def _table(
    counter: TokenCounter, title: str, header: list[str], rows: list[list[Any]], budget: int
) -> tuple[str, int, int]:
    """A CSV table of as many rows as fit, wrapper included, in ``budget`` tokens: (text, rows,
    tokens).
    """
    lines = _csv_rows(header, rows)

    def render(n: int) -> str:
        return f"-----{title}-----\n```csv\n" + "\n".join(lines[: n + 1]) + "\n```"

    kept = max(counter.fit(lines[1:], budget - counter.count(render(0)))[0], 0) if rows else 0
    tokens = counter.count(render(kept)) if kept else 0
    while kept and tokens > budget:  # rarely: joining lines can tokenise differently from the parts
        kept -= 1
        tokens = counter.count(render(kept)) if kept else 0
    return (render(kept), kept, tokens) if kept else ("", 0, 0)


def _source_block(number: int, hit: ExcerptHit, with_summary: bool) -> str:
    head = f"[{number}] {neutralise(Path(hit.source).name)}"
    body = f"{head}\n{neutralise(hit.text)}"
    return f"{body}\nSummary: {neutralise(hit.summary)}" if with_summary and hit.summary else body


PROMPT_RESERVE_TOKENS = 600  # the answer prompt's instructions and the question, around the context


def token_budgets(settings: Settings, mode: str) -> dict[str, int]:
    """The context budgets for ``mode``, scaled down together when ``model_context_tokens`` is set
    so that context, prompt and the answer's ``max_output_tokens_answer`` fit the model's window.
    """
    s = settings
    budgets = {
        "excerpts": s.excerpt_token_budget,
        "kg_excerpts": s.kg_excerpt_token_budget,
        "entities": 0 if mode == "standard" else s.entity_token_budget,
        "relationships": 0
        if mode == "standard"
        else (
            s.local_relationship_token_budget if mode == "local_kg" else s.relationship_token_budget
        ),
    }
    if not s.model_context_tokens:
        return budgets
    room = s.model_context_tokens - s.max_output_tokens_answer - PROMPT_RESERVE_TOKENS
    total = sum(budgets.values())
    if total <= room:
        return budgets
    scale = max(room, 0) / total
    return {name: int(budget * scale) for name, budget in budgets.items()}


def build(retrieved: Retrieved, settings: Settings, counter: TokenCounter) -> Context:
    """The context for ``retrieved``: graph tables (graph modes), then the numbered excerpts, each
    part within its budget from :func:`token_budgets`.
    """
    budgets = token_budgets(settings, retrieved.mode)
    context = Context("")
    parts: list[str] = []
    if retrieved.mode != "standard":
        parts += _graph_tables(retrieved, budgets, counter, context)
    hits, blocks = _fit_excerpts(retrieved, budgets, counter, context.token_counts)
    if blocks:
        parts.append("-----Sources-----\n" + "\n\n".join(blocks))
    context.text = "\n\n".join(parts)
    context.sources = [_numbered_source(n, h) for n, h in enumerate(hits, 1)]
    context.token_counts["total"] = counter.count(context.text)
    return context


def _graph_tables(
    retrieved: Retrieved, budgets: dict[str, int], counter: TokenCounter, context: Context
) -> list[str]:
    """The Entities and Relationships tables (empty ones left out); ``context`` records the rows
    that fit their budgets and the tokens they took.
    """
    ent_text, n_ent, ent_tokens = _table(
        counter,
        "Entities",
        ["entity", "type", "description", "rank"],
        [[e["name"], e["type"], e["description"], e["degree"]] for e in retrieved.entities],
        budgets["entities"],
    )
    rel_text, n_rel, rel_tokens = _table(
        counter,
        "Relationships",
        ["source", "target", "description", "keywords", "weight", "rank"],
        [
            [
                r["source"],
                r["target"],
                r["description"],
                "; ".join(r["keywords"]),
                round(r["weight"], 2),
                r["rank"],
            ]
            for r in retrieved.relationships
        ],
        budgets["relationships"],
    )
    context.entities, context.relationships = (
        retrieved.entities[:n_ent],
        retrieved.relationships[:n_rel],
    )
    context.token_counts.update(entities=ent_tokens, relationships=rel_tokens)
    return [p for p in (ent_text, rel_text) if p]


def _fit_excerpts(
    retrieved: Retrieved,
    budgets: dict[str, int],
    counter: TokenCounter,
    token_counts: dict[str, int],
) -> tuple[list[ExcerptHit], list[str]]:
    """The vector excerpts (with summaries), then the graph excerpts not among them, as many of
    each as its budget holds: the hits kept and their source blocks, numbered in that order.
    ``token_counts`` gets each section's tokens.
    """
    sources: list[ExcerptHit] = []
    blocks: list[str] = []
    for section, hits, budget, with_summary in (
        ("vector_excerpts", retrieved.vector_excerpts, budgets["excerpts"], True),
        ("graph_excerpts", retrieved.graph_excerpts, budgets["kg_excerpts"], False),
    ):
        seen = {h.excerpt_id for h in sources}
        hits = [h for h in hits if h.excerpt_id not in seen]
        candidate = [
            _source_block(len(sources) + i + 1, h, with_summary) for i, h in enumerate(hits)
        ]
        kept, used = counter.fit(candidate, budget)
        sources += hits[:kept]
        blocks += candidate[:kept]
        token_counts[section] = used
    return sources, blocks


def _numbered_source(number: int, hit: ExcerptHit) -> Source:
    """Source ``[number]`` of the answer; its rank is its number (the order it was kept in)."""
    return Source(
        number,
        hit.excerpt_id,
        Path(hit.source).name,
        hit.source,
        hit.text,
        hit.summary,
        hit.score,
        number,
        hit.origin,
        hit.scores,
    )
