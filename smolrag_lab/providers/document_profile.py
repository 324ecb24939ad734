"""What the local summariser needs to know about a whole document, computed once per document.

The extractive summary of an excerpt names the document's title and the section the excerpt sits
in, and picks the excerpt's sentence whose content words are most frequent in the document. Done
per excerpt against the whole text, that is O(document) per excerpt and quadratic per document (an
8 MB file would take hours). A :class:`DocumentProfile` holds the title, the headings with their
offsets and the document's word counts; locating an excerpt searches a window after the previous
one, and :meth:`DocumentProfile.for_excerpts` cuts a profile down to the words a batch of excerpts
uses, so what crosses a process boundary is O(batch), not O(document).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..text import clean_markdown, content_words, document_title, headings, split_sentences

# How far past the previous excerpt's start the next one is looked for, beyond the two excerpts'
# lengths (whitespace the chunker dropped between paragraphs, blank runs).
_SEARCH_SLACK = 4096
_PREFIX = 200


@dataclass
class DocumentProfile:
    """Title, headings (offset, level, text) and content-word counts of one document."""

    title: str
    heading_offsets: list[int]
    heading_texts: list[str]
    weights: Counter
    text: str = field(default="", repr=False)  # kept only in the process that locates excerpts
    _cursor: int = field(default=0, repr=False)
    _last_length: int = field(default=0, repr=False)

    @classmethod
    def of(cls, document: str) -> DocumentProfile:
        found = headings(document)
        return cls(
            title=document_title(document),
            heading_offsets=[offset for offset, _, _ in found],
            heading_texts=[text for _, _, text in found],
            weights=Counter(content_words(document)),
            text=document,
        )

    def locate(self, excerpt: str) -> int:
        """Offset of ``excerpt`` in the document (-1 if not found). Excerpts come in document order,
        so the next one is looked for in a window after the previous one: O(excerpt) each; only an
        excerpt whose opening is not in that window (text rewritten by the chunker) costs a scan.
        """
        prefix = excerpt[:_PREFIX]
        end = self._cursor + self._last_length + len(excerpt) + _SEARCH_SLACK
        position = self.text.find(prefix, self._cursor, end)
        if position < 0:
            position = self.text.find(prefix)
        if position >= 0:
            self._cursor, self._last_length = position, len(excerpt)
        return position

    def section_before(self, position: int) -> str | None:
        """The last heading at or before ``position`` (-1, not found: the document's last one)."""
        if position < 0:
            return self.heading_texts[-1] if self.heading_texts else None
        index = bisect.bisect_right(self.heading_offsets, position)
        return self.heading_texts[index - 1] if index else None

    def for_excerpts(self, excerpts: Iterable[str]) -> DocumentProfile:
        """A copy with only the words ``excerpts`` use, and no headings or text: enough to
        score their sentences, small enough to send to another process with them.
        """
        used = {
            word
            for excerpt in excerpts
            for sentence in split_sentences(excerpt)
            for word in content_words(clean_markdown(sentence))
        }
        return DocumentProfile(
            title=self.title,
            heading_offsets=[],
            heading_texts=[],
            weights=Counter({word: self.weights[word] for word in used if word in self.weights}),
        )


def sections(profile: DocumentProfile, excerpts: Sequence[str]) -> list[str | None]:
    """The section heading each excerpt continues (before any heading of its own), in order."""
    return [profile.section_before(profile.locate(excerpt)) for excerpt in excerpts]
