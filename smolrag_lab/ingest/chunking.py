"""Splitting documents into excerpts, measured in tokens.

Three strategies: ``markdown`` (paragraphs merged up to the size, headings kept with what follows,
code fences kept whole where they fit), ``tokens`` (a sliding token window with overlap) and
``sentences`` (sentences packed up to the size). Overlap is carried as whole trailing sentences
(or tokens for the window strategy) and always joined with a paragraph break, never glued.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..text import split_sentences
from ..tokens import TokenCounter

_FENCE = re.compile(r"(^```[^\n]*\n.*?^```[ \t]*$)", re.MULTILINE | re.DOTALL)
_HEADING_ONLY = re.compile(r"^\s{0,3}#{1,6}\s+\S.*$")


class Chunker:
    def __init__(
        self, counter: TokenCounter, size: int, overlap: int, strategy: str = "markdown"
    ) -> None:
        self.counter = counter
        self.size = size
        self.overlap = overlap
        self.strategy: Callable[[str], list[str]] = {
            "markdown": self._markdown,
            "tokens": self._tokens,
            "sentences": self._sentences,
        }[strategy]

    def split(self, text: str) -> list[str]:
        pieces = [p.strip() for p in self.strategy(text)]
        return [p for p in pieces if p]

    # Strategies ---------------------------------------------------------------------------
    def _tokens(self, text: str) -> list[str]:
        ids = self.counter.encode(text)
        step = self.size - self.overlap
        return [
            self.counter.decode(ids[i : i + self.size])
            for i in range(0, max(len(ids) - self.overlap, 1), step)
        ]

    def _sentences(self, text: str) -> list[str]:
        return self._pack(self._fit(split_sentences(text)), joiner=" ")

    def _markdown(self, text: str) -> list[str]:
        blocks: list[str] = []
        for part in _FENCE.split(text):
            if _FENCE.fullmatch(part):
                blocks.extend(self._split_code(part))
            else:
                blocks.extend(self._fit([p for p in re.split(r"\n{2,}", part) if p.strip()]))
        return self._pack(_attach_headings(blocks), joiner="\n\n")

    # Helpers ------------------------------------------------------------------------------
    def _fit(self, units: list[str]) -> list[str]:
        """Break units longer than the size: by sentences, then by token windows."""
        out: list[str] = []
        for unit in units:
            if self.counter.count(unit) <= self.size:
                out.append(unit)
                continue
            sentences = split_sentences(unit)
            if len(sentences) > 1:
                out.extend(self._fit(sentences))
            else:
                ids = self.counter.encode(unit)
                out.extend(
                    self.counter.decode(ids[i : i + self.size])
                    for i in range(0, len(ids), self.size)
                )
        return out

    def _split_code(self, block: str) -> list[str]:
        if self.counter.count(block) <= self.size:
            return [block]
        lines = block.split("\n")
        opener, body = lines[0], lines[1:-1]
        pieces, current = [], []
        for line in body:
            if (
                current
                and self.counter.count("\n".join([opener, *current, line, "```"])) > self.size
            ):
                pieces.append("\n".join([opener, *current, "```"]))
                current = []
            current.append(
                line
                if self.counter.count(line) < self.size
                else self.counter.truncate(line, self.size // 2)
            )
        if current:
            pieces.append("\n".join([opener, *current, "```"]))
        return pieces

    def _pack(self, units: list[str], joiner: str) -> list[str]:
        """Greedily merge units up to the size; each excerpt after the first starts with overlap."""
        excerpts: list[str] = []
        current: list[str] = []
        used = 0
        for unit in units:
            cost = self.counter.count(unit)
            if current and used + cost > self.size:
                excerpts.append(joiner.join(current))
                current = [self._overlap_of(excerpts[-1])] if self.overlap else []
                current = [c for c in current if c]
                used = sum(self.counter.count(c) for c in current)
                if used + cost > self.size:
                    current, used = [], 0
            current.append(unit)
            used += cost
        if current:
            excerpts.append(joiner.join(current))
        return excerpts

    def _overlap_of(self, excerpt: str) -> str:
        """Trailing whole sentences of ``excerpt`` within the overlap budget (none from code)."""
        if excerpt.rstrip().endswith("```"):
            return ""
        taken: list[str] = []
        used = 0
        for sentence in reversed(split_sentences(excerpt)):
            cost = self.counter.count(sentence)
            if used + cost > self.overlap or _HEADING_ONLY.match(sentence):
                break
            taken.insert(0, sentence)
            used += cost
        return " ".join(taken)


def _attach_headings(blocks: list[str]) -> list[str]:
    """Join a heading-only block to the block after it, so no excerpt ends with a bare heading."""
    out: list[str] = []
    pending = ""
    for block in blocks:
        if _HEADING_ONLY.match(block.strip()) and "\n" not in block.strip():
            pending = f"{pending}\n\n{block}" if pending else block
            continue
        out.append(f"{pending}\n\n{block}" if pending else block)
        pending = ""
    if pending:
        out.append(pending)
    return out
