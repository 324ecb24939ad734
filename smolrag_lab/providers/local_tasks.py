"""Deterministic, model-free versions of the four completion tasks (the default with no API key).

- summary: extractive; the document's title, the excerpt's section heading and its most
  representative sentence, so the excerpt's embedding carries its place in the document;
- extraction: identifiers, acronyms, proper-noun phrases and multi-word noun phrases, with
  relationships from co-occurrence in a sentence (the sentence is the description), in the spirit
  of GraphRAG's NLP-based "fast" graph;
- keywords: the same phrase finder on the question;
- answer: quotes the context sentences that best answer the question, with [n] citations, and says
  plainly that it is extractive (providers/local_answer.py).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

from ..text import (
    QUERY_FILLER,
    STOPWORDS,
    clean_markdown,
    content_words,
    headings,
    split_sentences,
)
from .base import CompletionTasks, EntityRecord, Extraction, QueryKeywords, RelationshipRecord
from .document_profile import DocumentProfile, sections
from .local_answer import EXTRACTIVE_NOTE, extractive_answer  # noqa: F401 (re-exported)
from .records import normalise_name

MAX_ENTITIES_PER_SENTENCE = 5
MAX_ENTITIES_PER_EXCERPT = 24
SUMMARY_WORDS = 40
PROFILES_KEPT = 16  # documents whose profiles LocalTasks keeps

_IDENTIFIER_PATTERNS = [
    ("function", re.compile(r"\b[A-Za-z_][A-Za-z0-9_.]*\(\)")),
    ("file", re.compile(r"\b[\w\-/]+\.(?:py|md|json|ya?ml|toml|txt|ipynb|graphml|sqlite|db)\b")),
    ("configuration", re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")),
    ("variable", re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")),
    ("interface", re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\b")),
    ("acronym", re.compile(r"\b[A-Z]{2,}[a-z]?\b")),
]
_BACKTICK = re.compile(r"`([^`\n]{2,48})`")
_PROPER = re.compile(r"\b[A-Z][A-Za-z0-9]+(?:[ -](?:of |for |and )?[A-Z][A-Za-z0-9]+)+\b")
_PHRASE_BREAK = re.compile(r"[^A-Za-z0-9_\- ]+")


def _phrases(sentence: str) -> list[str]:
    """Runs of 2-3 content words between stop words and punctuation (RAKE-style candidates)."""
    found = []
    for piece in _PHRASE_BREAK.split(sentence):
        run: list[str] = []
        for word in piece.split() + [""]:
            low = word.lower()
            if (
                word
                and low not in STOPWORDS
                and low not in QUERY_FILLER
                and not low.isdigit()
                and len(low) > 2
            ):
                run.append(low)
                continue
            if 2 <= len(run) <= 3:
                found.append(" ".join(run))
            elif len(run) > 3:
                found.append(" ".join(run[-2:]))
            run = []
    return found


def find_entities(sentence: str) -> list[tuple[str, str]]:
    """(name, type) candidates of one sentence, most specific first, de-duplicated."""
    found: dict[str, str] = {}
    for span in _BACKTICK.findall(sentence):
        found.setdefault(span.strip(), "identifier")
    for kind, pattern in _IDENTIFIER_PATTERNS:
        for match in pattern.findall(sentence):
            found.setdefault(match, kind)
    for match in _PROPER.findall(sentence):
        if match.split()[0].lower() not in STOPWORDS:
            found.setdefault(match, "name")
    for phrase in _phrases(sentence):
        found.setdefault(phrase, "concept")
    names: dict[str, tuple[str, str]] = {}
    for raw, kind in found.items():
        name = normalise_name(raw)
        if len(name) > 1 and name.lower() not in STOPWORDS:
            names.setdefault(name.lower(), (name, kind))
    return list(names.values())


class LocalTasks(CompletionTasks):
    backend = "local"
    summaries_from_model = False
    model = "extractive-v1"

    executor: Any = (
        None  # a concurrent.futures.Executor for summaries and extraction (ingest/executors.py)
    )

    def __init__(self) -> None:
        super().__init__()
        self._profiles: OrderedDict[str, DocumentProfile] = OrderedDict()

    def profile(self, document: str) -> DocumentProfile:
        """The document's profile, made on its first excerpt and reused for the others (the few
        documents most recently seen are kept: an ingestion works on a handful at once).
        """
        found = self._profiles.pop(document, None) or DocumentProfile.of(document)
        self._profiles[document] = found
        while len(self._profiles) > PROFILES_KEPT:
            self._profiles.popitem(last=False)
        return found

    async def summarize(self, document: str, excerpt: str) -> str:
        self.stats.add("summary", calls=1, items=1)
        profile = self.profile(document)
        section = profile.section_before(profile.locate(excerpt))
        if self.executor is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self.executor, summarize_located, profile.for_excerpts([excerpt]), excerpt, section
            )
        return summarize_located(profile, excerpt, section)

    async def extract(self, excerpt: str) -> Extraction:
        self.stats.add("extraction", calls=1, items=1)
        if self.executor is not None:
            return await asyncio.get_running_loop().run_in_executor(self.executor, extract, excerpt)
        return extract(excerpt)

    async def process_group(
        self, document: str, context: str, excerpts: Sequence[str]
    ) -> list[tuple[str, Extraction]]:
        """The group's summaries and extractions in one step (one executor task per group, carrying
        the profile cut down to the group's words).
        """
        for kind in ("summary", "extraction"):
            self.stats.add(kind, calls=len(excerpts), items=len(excerpts))
        profile = self.profile(document)
        found = sections(profile, excerpts)
        if self.executor is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self.executor,
                summarize_and_extract,
                profile.for_excerpts(excerpts),
                excerpts,
                found,
            )
        return summarize_and_extract(profile, excerpts, found)

    async def keywords(self, query: str) -> QueryKeywords:
        self.stats.add("keywords", calls=1, items=1)
        return keywords(query)

    async def answer(self, question: str, context: str, sources: Sequence[str], mode: str) -> str:
        self.stats.add("answer", calls=1, items=1)
        return await asyncio.to_thread(
            extractive_answer, question, sources
        )  # CPU work, off the event loop


def summarize_and_extract(
    profile: DocumentProfile, excerpts: Sequence[str], sections_before: Sequence[str | None]
) -> list[tuple[str, Extraction]]:
    """Summary and extraction of each excerpt (module-level: worker processes run it too)."""
    return [
        (summarize_located(profile, excerpt, section), extract(excerpt))
        for excerpt, section in zip(excerpts, sections_before, strict=True)
    ]


def summarize(document: str, excerpt: str) -> str:
    """The summary of one excerpt on its own (profiles the whole document: for a single call; an
    ingestion profiles each document once, see :func:`summarize_excerpts`).
    """
    return summarize_excerpts(DocumentProfile.of(document), [excerpt])[0]


def distinct_summaries(
    document: str, excerpts: Sequence[str], summaries: Sequence[str]
) -> tuple[list[str], int]:
    """The summaries, with one a model gave several different excerpts replaced by the local one
    (a small model summarised the document, not the excerpt, nine times alike), and how many were.
    A repeated summary tells the excerpts' vectors nothing apart.
    """
    by_summary: dict[str, list[int]] = {}
    for i, summary in enumerate(summaries):
        by_summary.setdefault(summary.strip().casefold(), []).append(i)
    repeated = sorted(
        i for same in by_summary.values() if len({excerpts[i] for i in same}) > 1 for i in same
    )
    if not repeated:
        return list(summaries), 0
    local = summarize_excerpts(DocumentProfile.of(document), [excerpts[i] for i in repeated])
    out = list(summaries)
    for i, summary in zip(repeated, local, strict=True):
        out[i] = summary
    return out, len(repeated)


def summarize_excerpts(profile: DocumentProfile, excerpts: Sequence[str]) -> list[str]:
    """Summaries of a document's excerpts, in document order: O(excerpt) each given the profile."""
    return [
        summarize_located(profile, excerpt, section)
        for excerpt, section in zip(excerpts, sections(profile, excerpts), strict=True)
    ]


def summarize_located(profile: DocumentProfile, excerpt: str, section_before: str | None) -> str:
    """The summary of an excerpt whose enclosing section is known: title, section and the excerpt's
    sentence whose content words are most frequent in the document.
    """
    inside = headings(excerpt)
    section = inside[0][2] if inside else section_before
    weights = profile.weights
    best, best_score = "", -1.0
    for sentence in split_sentences(excerpt):
        plain = clean_markdown(sentence)
        terms = content_words(plain)
        if len(terms) < 3:
            continue
        score = sum(math.log1p(weights[t]) for t in set(terms)) / math.sqrt(len(terms))
        if score > best_score:
            best, best_score = plain, score
    best = " ".join((best or clean_markdown(excerpt)).split()[:SUMMARY_WORDS])
    title = profile.title
    where = f'"{title}"' + (
        f', section "{clean_markdown(section)}"' if section and section != title else ""
    )
    return f"From {where}: {best}"


def extract(excerpt: str) -> Extraction:
    result = Extraction()
    first_mention: dict[str, EntityRecord] = {}
    pair_sentences: dict[tuple[str, str], list[str]] = {}
    for sentence in split_sentences(excerpt):
        plain = clean_markdown(sentence)
        found = find_entities(sentence)[:MAX_ENTITIES_PER_SENTENCE]
        for name, kind in found:
            if name not in first_mention and len(first_mention) < MAX_ENTITIES_PER_EXCERPT:
                first_mention[name] = EntityRecord(name, kind, plain)
        present = [n for n, _ in found if n in first_mention]
        for source, target in itertools.combinations(sorted(set(present)), 2):
            pair_sentences.setdefault((source, target), []).append(plain)
    result.entities = list(first_mention.values())
    for (source, target), sentences in pair_sentences.items():
        names = set(content_words(source + " " + target))
        keys = [
            w
            for w, _ in Counter(
                w for s in sentences for w in content_words(s) if w not in names
            ).most_common(3)
        ]
        result.relationships.append(
            RelationshipRecord(source, target, sentences[0], keys, float(len(sentences)))
        )
    result.content_keywords = [w for w, _ in Counter(content_words(excerpt)).most_common(5)]
    return result


def keywords(query: str) -> QueryKeywords:
    low = [name for name, kind in find_entities(query) if kind != "concept"]
    concepts = [name for name, kind in find_entities(query) if kind == "concept"]
    singles = [w for w in content_words(query) if w not in QUERY_FILLER]
    low_lower = {n.lower() for n in low}
    high = concepts + [w for w in singles if not any(w in n for n in low_lower)]
    return QueryKeywords(
        high_level=list(dict.fromkeys(high)) or singles,
        low_level=list(dict.fromkeys(low + concepts)) or singles,
    )
