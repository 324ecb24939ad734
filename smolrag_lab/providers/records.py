"""Parsers for model output: extraction records and keyword JSON.

Models get delimiter formats wrong in many small ways (LightRAG #1215, #1313, #2016), so the
parser is lenient about whitespace, quotes, brackets, newlines between records and a missing
completion tag, skips records it cannot read, and reports how many it skipped.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass

from ..prompts import COMPLETE_TAG, RECORD_SEP, TUPLE_SEP
from .base import EntityRecord, Extraction, ProviderError, QueryKeywords, RelationshipRecord

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Compiled once: these run once per record or per field of every extraction (a grouped ingestion
# parses tens of thousands of fields).
_RECORD_BREAK = re.compile(re.escape(RECORD_SEP) + r"|\n(?=\s*\()")
_PARENTHESISED = re.compile(r"\((.*)\)", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass
class ParseReport:
    records: int = 0
    skipped: int = 0
    last_skipped: bool = False  # the final record was unreadable (cut off?)
    complete: bool = False  # the completion tag was present


def normalise_name(name: str) -> str:
    """Canonical entity name: unescaped, unquoted, whitespace collapsed, case folded to title case
    for all-lower or all-upper words longer than an acronym, otherwise kept (``SmolRAG``,
    ``top_k``).
    """
    name = _CONTROL.sub(" ", html.unescape(name)).strip().strip("\"'`“”‘’*").strip()
    return " ".join(_fold(word) for word in name.split())


def _fold(word: str) -> str:
    if word.islower() and "_" not in word and "(" not in word and "." not in word:
        return word[:1].upper() + word[1:]
    return word


def _clean(field: str) -> str:
    return _CONTROL.sub(" ", html.unescape(field)).strip().strip('"').strip()


def parse_extraction(text: str) -> tuple[Extraction, ParseReport]:
    result, report = Extraction(), ParseReport(complete=COMPLETE_TAG in text)
    body = text.replace(COMPLETE_TAG, "")
    for raw in _RECORD_BREAK.split(body):
        raw = raw.strip()
        if not raw:
            continue
        match = _PARENTHESISED.search(raw)
        fields = [_clean(f) for f in (match.group(1) if match else raw).split(TUPLE_SEP)]
        kind = fields[0].lower().strip("'\" ")
        readable = _add_record(result, kind, fields)
        report.records += readable
        report.skipped += not readable
        report.last_skipped = not readable
    return result, report


def check_extraction(text: str, report: ParseReport) -> None:
    """Refuse output that cannot be trusted as a whole, so nothing from it reaches the stores:
    text with no readable record at all, or output cut off mid-record (no completion tag).
    """
    if report.skipped and not report.records:
        raise ProviderError(
            f"extraction output has no readable record ({report.skipped} unreadable): {text[:80]!r}"
        )
    if report.last_skipped and not report.complete:
        raise ProviderError(
            f"extraction output was cut off mid-record (no completion tag): ...{text[-80:]!r}"
        )


def _add_record(result: Extraction, kind: str, fields: list[str]) -> bool:
    """Add one record; False when it is unreadable (a name is checked after normalising: one of
    quotes or spaces alone is no name).
    """
    names = [normalise_name(f) for f in fields[1:3]] if len(fields) >= 3 else []
    if kind == "entity" and len(fields) >= 4 and names[0]:
        result.entities.append(
            EntityRecord(
                names[0], fields[2].lower() or "unknown", TUPLE_SEP.join(fields[3:]).strip()
            )
        )
        return True
    if kind == "relationship" and len(fields) >= 5 and all(names):
        weight = _number(fields[5]) if len(fields) >= 6 else 1.0
        keywords = [k.strip() for k in fields[4].split(",") if k.strip()]
        result.relationships.append(
            RelationshipRecord(names[0], names[1], fields[3], keywords, weight)
        )
        return True
    if kind == "content_keywords" and len(fields) >= 2:
        result.content_keywords.extend(k.strip() for k in fields[1].split(",") if k.strip())
        return True
    return False


def _number(text: str) -> float:
    match = _NUMBER.search(text)
    return float(match.group()) if match else 1.0


def _folded(text: str) -> str:
    """Text for name matching: compatibility forms, case, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def parse_keywords(text: str) -> QueryKeywords:
    """The two keyword lists from a model's JSON answer; empty lists when it is unreadable."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        return QueryKeywords()
    try:
        data = json.loads(match.group())
    except json.JSONDecodeError:
        return QueryKeywords()
    if not isinstance(data, dict):
        return QueryKeywords()
    return QueryKeywords(
        _strings(data.get("high_level_keywords")), _strings(data.get("low_level_keywords"))
    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v).strip() for v in value if str(v).strip()]


_SUMMARY = re.compile(
    r"\(\s*[\"']?summary[\"']?\s*"
    + re.escape(TUPLE_SEP)
    + r"\s*[\"']?E?(\d+)[\"']?\s*"
    + re.escape(TUPLE_SEP)
    + r"(.*?)\)\s*(?="
    + re.escape(RECORD_SEP)
    + r"|\n\s*\(|"
    + re.escape(COMPLETE_TAG)
    + r"|$)",
    re.IGNORECASE | re.DOTALL,
)


def parse_group_output(
    text: str, n_excerpts: int
) -> tuple[dict[int, str], Extraction, ParseReport]:
    """Summary records by excerpt number (1-based), and the entity/relationship records of the
    group.
    """
    summaries: dict[int, str] = {}
    for match in _SUMMARY.finditer(text):
        number, summary = int(match.group(1)), _clean(match.group(2))
        if 1 <= number <= n_excerpts and summary:
            summaries.setdefault(number, summary)
    rest = _SUMMARY.sub("", text)
    extraction, report = parse_extraction(rest)
    report.complete = COMPLETE_TAG in text
    return summaries, extraction, report


def check_group_output(text: str, n_excerpts: int) -> None:
    """Refuse a group answer with no summary and no record at all, or one cut off mid-record."""
    summaries, _, report = parse_group_output(text, n_excerpts)
    if not summaries and not report.records:
        raise ProviderError(f"group output has no readable record: {text[:80]!r}")
    if report.last_skipped and not report.complete:
        raise ProviderError(
            f"group output was cut off mid-record (no completion tag): ...{text[-80:]!r}"
        )


def without_summaries(text: str) -> str:
    """Group output without its summary records: the entity and relationship records."""
    return _SUMMARY.sub("", text)


def check_group_cutoff(text: str, n_excerpts: int) -> None:
    """Refuse (so never cache) a group answer cut off mid-record; other problems are re-asked."""
    _, extraction, report = parse_group_output(text, n_excerpts)
    if report.records and report.last_skipped and not report.complete:
        raise ProviderError(
            f"group output was cut off mid-record (no completion tag): ...{text[-80:]!r}"
        )
