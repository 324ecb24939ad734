"""Model calls in groups: the retrieval unit (a small excerpt that fits the embedder) is decoupled
from the model-call unit (several neighbouring excerpts summarised and mined in one call, with a
bounded document context instead of the whole document).

Upstream sends the whole document with every excerpt's summary call, so its cost grows as excerpts x
document length; here it grows with the text once, plus a fixed context per group. The shared part
of each prompt (instructions, then the document context) comes first so provider prefix caches apply
across a document's groups, and a group's prompt does not change when a paragraph elsewhere in the
document is edited, so the completion cache answers it again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..providers.base import EntityRecord, Extraction, RelationshipRecord
from ..text import clean_markdown, document_title, headings
from ..tokens import TokenCounter


def group_excerpts(token_counts: Sequence[int], group_tokens: int) -> list[list[int]]:
    """Consecutive excerpt indices packed up to ``group_tokens`` per group (an excerpt is never
    split).
    """
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
    """Title, outline of headings and the document's opening (its first paragraph, at most a third
    of the budget), within ``budget_tokens``. Only the title, the headings and the opening paragraph
    shape it, so editing the body leaves every other group's prompt, and its cached answer, intact.
    """
    title = document_title(document)
    found = headings(document)
    top = min((level for _, level, _ in found), default=1)
    outline = [f"{'  ' * (level - top)}- {clean_markdown(text)}" for _, level, text in found]
    paragraphs = [
        p
        for p in document.split("\n\n")  # prose only: no headings, rules or title lines
        if not p.lstrip().startswith(("#", "```")) and len(p.split()) >= 8
    ]
    opening = " ".join(clean_markdown(paragraphs[0]).split()) if paragraphs else ""
    opening = counter.decode(counter.encode(opening)[: max(budget_tokens // 3, 0)])
    text = "\n".join(
        [f"Title: {title}", *(["Outline:", *outline] if outline else []), f"Opening: {opening}"]
    )
    if counter.count(text) <= budget_tokens:
        return text
    return counter.decode(counter.encode(text)[:budget_tokens])


def _word_pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")


class _Mentions:
    """Which excerpts mention a name, computed once per name of a group (entities recur in
    relationships).
    """

    def __init__(self, folded: list[str]) -> None:
        self.folded = folded
        self._found: dict[str, frozenset[int]] = {}

    def of(self, name: str) -> frozenset[int]:
        if name not in self._found:
            pattern = _word_pattern(name) if name else None
            self._found[name] = frozenset(
                i
                for i, text in enumerate(self.folded)
                if pattern and name in text and pattern.search(text)
            )
        return self._found[name]

    def places(self, names: Sequence[str]) -> list[int]:
        """Excerpts that mention every name; else the first that mentions one; else the one sharing
        most words.
        """
        names = [n.casefold() for n in names]
        found = [self.of(n) for n in names]
        every = frozenset.intersection(*found) if found else frozenset()
        if every:
            return sorted(every)
        some = frozenset().union(*found)
        if some:
            return [min(some)]
        words = {w for n in names for w in re.findall(r"\w+", n)}
        folded = self.folded
        return [max(range(len(folded)), key=lambda i: (sum(w in folded[i] for w in words), -i))]


def attribute(extraction: Extraction, excerpts: Sequence[str]) -> list[Extraction]:
    """Split one group's extraction into per-excerpt extractions by where each record is mentioned,
    so provenance stays per excerpt (what the graph, deletion and repair rely on).
    """
    folded = [e.casefold() for e in excerpts]
    mentions = _Mentions(folded)
    out = [Extraction() for _ in excerpts]
    for entity in extraction.entities:
        for i in mentions.places([entity.name]):
            out[i].entities.append(EntityRecord(entity.name, entity.type, entity.description))
    for rel in extraction.relationships:
        for i in mentions.places([rel.source, rel.target]):
            out[i].relationships.append(
                RelationshipRecord(
                    rel.source, rel.target, rel.description, list(rel.keywords), rel.weight
                )
            )
    for i in range(len(folded)):
        out[i].content_keywords = [
            k for k in extraction.content_keywords if i in mentions.of(k.casefold())
        ]
    return out
