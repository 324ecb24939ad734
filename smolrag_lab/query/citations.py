"""Does an answer cite its sources? Every citation must name a source that exists, and every
sentence that states something must carry one; a small model's answer often cites nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..providers.local_answer import EXTRACTIVE_NOTE

_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# A sentence ends before a capital, quote, bracket or list star, or at a line break; never before a
# citation: "… since 1999. [1]" cites the sentence it follows.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(*]|\[(?!\d))|\n+")
MIN_CLAIM_WORDS = 4  # shorter fragments (headings, "In short:") state nothing to cite
_FILE_NAME = re.compile(r"[\w/-]*\w\.[A-Za-z][A-Za-z0-9]{0,4}\b")  # a source named, not a claim
_NO_ANSWER = re.compile(
    r"\b(?:do not|don't|cannot|can't) (?:know|say|tell|answer)\b|"
    r"\b(?:does not|doesn't|do not|don't) (?:contain|say|mention|give)\b",
    re.IGNORECASE,
)  # saying the context has no answer needs no citation


@dataclass
class CitationCheck:
    ok: bool
    invalid: list[int] = field(default_factory=list)  # cited numbers with no such source
    uncited: list[str] = field(default_factory=list)  # sentences without a citation
    states_nothing: bool = False  # no sentence at all: "[1] notes.md" passes the rest vacuously

    def problem(self) -> str:
        parts = ["it states nothing: answer in sentences"] if self.states_nothing else []
        if self.invalid:
            parts.append(f"it cites sources that do not exist: {self.invalid}")
        if self.uncited:
            parts.append(f"{len(self.uncited)} sentence(s) carry no [n] citation")
        return "; ".join(parts)


def cited_numbers(text: str) -> list[int]:
    return [int(n) for group in _CITATION.findall(text) for n in re.split(r"\s*[,;]\s*", group)]


def sentences(answer: str) -> list[str]:
    """The answer's statements: split at sentence ends and line breaks, markup ignored."""
    parts = (p.strip().lstrip("#*->0123456789. ").strip() for p in _SENTENCE_END.split(answer))
    return [p for p in parts if len(re.findall(r"\w+", _bare(p))) >= MIN_CLAIM_WORDS]


def _bare(sentence: str) -> str:
    return _FILE_NAME.sub("", _CITATION.sub("", sentence))


def check_citations(answer: str, n_sources: int) -> CitationCheck:
    """Citations in range 1..n_sources, one in every sentence that states something (the
    offline answerer's opening note describes the answer, it states nothing to cite), and at least
    one such sentence: a bare list of sources answers nothing.
    """
    answer = answer.replace(EXTRACTIVE_NOTE, "")
    invalid = sorted({n for n in cited_numbers(answer) if not 1 <= n <= n_sources})
    stated = sentences(answer)
    uncited = [s for s in stated if not _CITATION.search(s) and not _NO_ANSWER.search(s)]
    return CitationCheck(not (invalid or uncited or not stated), invalid, uncited, not stated)
