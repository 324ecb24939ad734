"""Model calls in groups: the retrieval unit (a small excerpt that fits the embedder) is decoupled from
the model-call unit (several neighbouring excerpts summarised and mined in one call, with a bounded
document context instead of the whole document).

Upstream sends the whole document with every excerpt's summary call, so its cost grows as excerpts x
document length; here it grows with the text once, plus a fixed context per group. The shared part of
each prompt (instructions, then the document context) comes first so provider prefix caches apply
across a document's groups, and a group's prompt does not change when a paragraph elsewhere in the
document is edited, so the completion cache answers it again.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..providers.base import EntityRecord, Extraction, RelationshipRecord
from ..text import clean_markdown, document_title, headings
from ..tokens import TokenCounter


def group_excerpts(token_counts: Sequence[int], group_tokens: int) -> list[list[int]]:
    """Consecutive excerpt indices packed up to ``group_tokens`` per group (an excerpt is never split)."""
    groups: list[list[int]] = []
    size = 0
    for i, tokens in enumerate(token_counts):
        if groups and size + tokens <= group_tokens:
            groups[-1].append(i)
            size += tokens
        else:
            groups.append([i])
            size = tokens
    return groups


def document_context(document: str, budget_tokens: int, counter: TokenCounter) -> str:
    """Title, outline of headings and the document's opening (its first paragraph, at most a third of
    the budget), within ``budget_tokens``. Only the title, the headings and the opening paragraph
    shape it, so editing the body leaves every other group's prompt, and its cached answer, intact."""
    title = document_title(document)
    found = headings(document)
    top = min((level for _, level, _ in found), default=1)
    outline = [f"{'  ' * (level - top)}- {clean_markdown(text)}" for _, level, text in found]
    paragraphs = [p for p in document.split("\n\n")  # prose only: no headings, rules or title lines
                  if not p.lstrip().startswith(("#", "```")) and len(p.split()) >= 8]
    opening = " ".join(clean_markdown(paragraphs[0]).split()) if paragraphs else ""
    opening = counter.decode(counter.encode(opening)[:max(budget_tokens // 3, 0)])
    text = "\n".join([f"Title: {title}", *(["Outline:", *outline] if outline else []), f"Opening: {opening}"])
    if counter.count(text) <= budget_tokens:
        return text
    return counter.decode(counter.encode(text)[:budget_tokens])


def _mentions(text: str, name: str) -> bool:
    """``name`` occurs in ``text`` as whole words (the substring test first: it rules out most)."""
    return bool(name) and name in text and re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def _places(folded: list[str], names: Sequence[str]) -> list[int]:
    """Excerpts that mention every name; else the first that mentions one; else the one sharing most words."""
    names = [n.casefold() for n in names]
    every = [i for i, text in enumerate(folded) if all(_mentions(text, n) for n in names)]
    if every:
        return every
    some = [i for i, text in enumerate(folded) if any(_mentions(text, n) for n in names)]
    if some:
        return some[:1]
    words = {w for n in names for w in re.findall(r"\w+", n)}
    return [max(range(len(folded)), key=lambda i: (sum(w in folded[i] for w in words), -i))]


def attribute(extraction: Extraction, excerpts: Sequence[str]) -> list[Extraction]:
    """Split one group's extraction into per-excerpt extractions by where each record is mentioned,
    so provenance stays per excerpt (what the graph, deletion and repair rely on)."""
    folded = [e.casefold() for e in excerpts]
    out = [Extraction() for _ in excerpts]
    for entity in extraction.entities:
        for i in _places(folded, [entity.name]):
            out[i].entities.append(EntityRecord(entity.name, entity.type, entity.description))
    for rel in extraction.relationships:
        for i in _places(folded, [rel.source, rel.target]):
            out[i].relationships.append(RelationshipRecord(rel.source, rel.target, rel.description,
                                                           list(rel.keywords), rel.weight))
    for i, text in enumerate(folded):
        out[i].content_keywords = [k for k in extraction.content_keywords if _mentions(text, k.casefold())]
    return out
