"""Small, dependency-free text helpers: sentences, words, stop words, headings."""

from __future__ import annotations

import bisect
import re

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "either",
        "else",
        "etc",
        "ever",
        "every",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "however",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "let",
        "like",
        "may",
        "me",
        "might",
        "more",
        "most",
        "much",
        "must",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "often",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "per",
        "rather",
        "same",
        "shall",
        "she",
        "should",
        "since",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "thus",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "use",
        "used",
        "uses",
        "using",
        "very",
        "via",
        "was",
        "we",
        "were",
        "what",
        "whatever",
        "when",
        "where",
        "whether",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "within",
        "without",
        "would",
        "yet",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "e.g",
        "i.e",
        "vs",
    ]
)

# Question words and verbs that carry no topic of their own in a query.
QUERY_FILLER = frozenset(
    [
        "explain",
        "describe",
        "tell",
        "show",
        "give",
        "list",
        "name",
        "say",
        "discuss",
        "mention",
        "mentioned",
        "provide",
        "provides",
        "provided",
        "documentation",
        "document",
        "docs",
        "role",
        "purpose",
        "kind",
        "kinds",
        "type",
        "types",
        "way",
        "ways",
        "example",
        "examples",
    ]
)

_SENTENCE_END = re.compile(
    r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9`#*-])|\n{2,}|\n(?=\s*(?:[-*+]|\d+\.|#{1,6})\s)"
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-./']*[A-Za-z0-9]|[A-Za-z0-9]")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_FENCE = re.compile(r"^\s{0,3}(```|~~~).*?(?:^\s{0,3}\1[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"(?<!\w)(\*\*|__|\*|_)(\S(?:.*?\S)?)\1(?!\w)")
_SPACES = re.compile(r"\s+")


def split_sentences(text: str) -> list[str]:
    """Sentences (and list items / headings as their own units), stripped, empty ones dropped."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts if p and p.strip()]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    """Lower-cased words that are not stop words or bare numbers."""
    return [
        w
        for w in (t.lower() for t in words(text))
        if w not in STOPWORDS and not w.isdigit() and len(w) > 1
    ]


def headings(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, title) of each markdown heading; ``#`` lines inside fenced code are comments,
    not headings.
    """
    fenced = [m.span() for m in _FENCE.finditer(text)]  # in order, not overlapping
    starts = [start for start, _ in fenced]
    found = []
    for m in _HEADING.finditer(text):
        inside = bisect.bisect_right(starts, m.start()) - 1
        if inside < 0 or m.start() >= fenced[inside][1]:
            found.append((m.start(), len(m.group(1)), m.group(2).strip()))
    return found


def document_title(text: str, fallback: str = "") -> str:
    """The first level-1 heading; else a short first line standing on its own (a bold or plain title
    line); else the highest-level heading; else the first line.
    """
    found = headings(text)
    if any(level == 1 for _, level, _ in found):
        return next(title for _, level, title in found if level == 1).strip("*_ ")
    lines = text.strip().split("\n", 2)
    first = lines[0].strip() if lines else ""
    standalone = len(lines) == 1 or not lines[1].strip()
    if first and not first.startswith("#") and standalone and len(first) <= 120:
        return clean_markdown(first)
    if found:
        return min(found, key=lambda h: (h[1], h[0]))[2].strip("*_ ")
    return (first or fallback)[:120]


def clean_markdown(text: str) -> str:
    """Text without markdown emphasis, link targets and heading marks, for display in summaries."""
    text = _LINK.sub(r"\1", text)
    text = _HEADING_MARK.sub("", text)
    text = _LIST_MARK.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _SPACES.sub(" ", text).strip()


def excerpt_search_text(text: str, summary: str, with_summary: bool = True) -> str:
    """The text an excerpt is embedded and BM25-indexed by: itself, followed by its summary unless
    ``with_summary`` is off (settings ``embed_summary``, ``lexical_summary``).
    """
    return f"{text}\n\n{summary}" if with_summary and summary else text


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def reject_lone_surrogates(text: str, what: str) -> None:
    """Raise a clear error for text holding lone surrogates (U+D800-U+DFFF): they are not Unicode
    characters, cannot be encoded as UTF-8, and so can be neither stored nor shown.
    """
    found = _LONE_SURROGATE.search(text)
    if found:
        raise ValueError(
            f"{what}: lone surrogate U+{ord(found.group()):04X} at character {found.start()}; "
            "the text is not valid Unicode (decode it with errors='replace' first)"
        )
