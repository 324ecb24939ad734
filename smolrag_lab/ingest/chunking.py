"""Splitting documents into excerpts, measured in tokens.

Three strategies: ``markdown`` (paragraphs merged up to the size, headings kept with what follows,
code fences kept whole where they fit), ``tokens`` (a sliding token window with overlap) and
``sentences`` (sentences packed up to the size). Overlap is carried as whole trailing sentences
(or tokens for the window strategy) and always joined with a paragraph break, never glued.

Every excerpt is at most ``size`` tokens plus :func:`heading_allowance`: the heading lines carried
with the paragraph they introduce (and a character a token window cut in two) may exceed the size by
that much, never more. Headings in a row beyond the allowance become excerpts of their own, and
text is cut into pieces of at most ``_LONG_PIECE`` characters before it is tokenised, so one long
line, a file without spaces or a single 1 MB word costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..text import split_sentences
from ..tokens import TokenCounter

_FENCE = re.compile(r"(^```[^\n]*\n.*?^```[ \t]*$)", re.MULTILINE | re.DOTALL)
_HEADING_ONLY = re.compile(r"^\s{0,3}#{1,6}\s+\S.*$")
_LONG_PIECE = 8192  # characters: BPE on one longer run of text without spaces is superlinear
_LONG_RUN = re.compile(rf"\S{{{_LONG_PIECE}}}")
_FENCE_OPENER_TOKENS = 16


def heading_allowance(size: int) -> int:
    """Tokens an excerpt may exceed ``size`` by: the headings attached to its first paragraph."""
    return max(8, size // 8)


def cut_long(text: str, limit: int = _LONG_PIECE) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after the last whitespace where there
    is one (the pieces joined give ``text`` back).
    """
    pieces, start = [], 0
    while len(text) - start > limit:
        end = start + limit
        space = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
        end = space + 1 if space > start else end
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


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
        pieces = cut_long(text) if _LONG_RUN.search(text) else [text]
        ids = [i for piece in pieces for i in self.counter.encode(piece)]
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
        return self._pack(self._attach_headings(blocks), joiner="\n\n")

    # Helpers ------------------------------------------------------------------------------
    def _fit(self, units: list[str]) -> list[str]:
        """Break units longer than the size: by sentences, then by token windows."""
        out: list[str] = []
        for unit in units:
            if len(unit) > _LONG_PIECE:
                sentences = split_sentences(unit)
                out.extend(self._fit([p for s in sentences for p in cut_long(s)]))
                continue
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
        opener = self.counter.truncate(lines[0], min(_FENCE_OPENER_TOKENS, self.size // 4))
        body = lines[1:-1]
        pieces: list[str] = []
        current: list[str] = []
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

    def _attach_headings(self, blocks: list[str]) -> list[str]:
        """Join heading-only blocks to the block after them, so no excerpt ends with a bare heading;
        only the last headings of a run that fit the allowance are attached, the others (a file of
        bare headings) are blocks of their own, so no unit grows past the size plus the allowance.
        """
        allowance = heading_allowance(self.size)
        out: list[str] = []
        pending: list[str] = []
        used = 0
        for block in blocks:
            stripped = block.strip()
            if _HEADING_ONLY.match(stripped) and "\n" not in stripped:
                cost = self.counter.count(block) + 1
                while pending and used + cost > allowance:
                    out.append(pending.pop(0))
                    used -= self.counter.count(out[-1]) + 1
                if cost > allowance:  # a heading too long to carry: on its own, after the others
                    out.extend(pending)
                    pending, used = [], 0
                    out.append(block)
                else:
                    pending.append(block)
                    used += cost
                continue
            out.append("\n\n".join([*pending, block]))
            pending, used = [], 0
        out.extend(pending)
        return out

    def _pack(self, units: list[str], joiner: str) -> list[str]:
        """Greedily merge units up to the size; each excerpt after the first starts with overlap.
        The joiners between units (a token each at most) count against the heading allowance, so
        many tiny units (a file of bare headings) cannot add up past it.
        """
        excerpts: list[str] = []
        current: list[str] = []
        used = 0
        for unit in units:
            cost = self.counter.count(unit)
            if current and self._overflows(used + cost, len(current)):
                excerpts.append(joiner.join(current))
                current = [self._overlap_of(excerpts[-1])] if self.overlap else []
                current = [c for c in current if c]
                used = sum(self.counter.count(c) for c in current)
                if self._overflows(used + cost, len(current)):
                    current, used = [], 0
            current.append(unit)
            used += cost
        if current:
            excerpts.append(joiner.join(current))
        return excerpts

    def _overflows(self, tokens: int, joiners: int) -> bool:
        return tokens > self.size or tokens + joiners > self.size + heading_allowance(self.size)

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
