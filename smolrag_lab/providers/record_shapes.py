"""Extraction records in the shapes small models write instead of the delimiter format: JSON
(bare or inside a ``` fence), ``Entity: name — description`` / ``Relationship: a -> b — why`` lines
and markdown lists (``- **name** (type): description``). Used when the delimiter parser reads
nothing; what it returns is validated like any other record (:mod:`.record_checks`).
"""

from __future__ import annotations

import re

from .base import EntityRecord, Extraction, RelationshipRecord
from .records import normalise_name
from .structured import flat_objects, read_json

_DASH = r"\s*(?:—|–|:|\s-\s)\s*"
_ENTITY_LINE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*)?entity(?:\*\*)?\s*:\s*(?P<name>[^(—–:\n]+?)"
    r"(?:\s*\((?P<type>[^)]*)\))?" + _DASH + r"(?P<desc>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_REL_LINE = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])?\s*(?:\*\*)?(?:relationship|relation)(?:\*\*)?\s*:\s*"
    r"(?P<src>[^\n]+?)\s*(?:->|→|—>|=>)\s*(?P<tgt>[^\n]+?)" + _DASH + r"(?P<desc>.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_LIST_ITEM = re.compile(
    r"^\s*(?:[-*+]|\d+[.)])\s+(?:\*\*)?(?P<name>[^*:(—–\n]+?)(?:\*\*)?"
    r"(?:\s*\((?P<type>[^)]*)\))?" + _DASH + r"(?P<desc>.+)$",
    re.MULTILINE,
)


def parse_loose(text: str) -> Extraction:
    """Records from JSON, ``Entity:``/``Relationship:`` lines or a markdown list: the first read."""
    for shape in (_from_json, _from_lines, _from_list):
        found = shape(text)
        if found.entities or found.relationships:
            return found
    return Extraction()


def _from_json(text: str) -> Extraction:
    """Records from a JSON reply; from its complete objects when it was cut off mid-way."""
    found = _json_records(read_json(text))
    if found.entities or found.relationships:
        return found
    return _json_records(flat_objects(text))


def _get(item: dict, *keys: str) -> str:
    for key in keys:
        if item.get(key) not in (None, ""):
            return str(item[key]).strip()
    return ""


def _json_records(data: object) -> Extraction:
    found = Extraction()
    if isinstance(data, dict):
        items = [*(data.get("entities") or []), *(data.get("relationships") or [])]
        items += list(data.get("relations") or [])
        keywords = data.get("content_keywords") or []
        if isinstance(keywords, list):
            found.content_keywords = [str(k).strip() for k in keywords if str(k).strip()]
    elif isinstance(data, list):
        items = data
    else:
        return found
    for item in (i for i in items if isinstance(i, dict)):
        source, target = _get(item, "source", "src", "from"), _get(item, "target", "tgt", "to")
        if source and target:
            keywords = item.get("keywords") or []
            if isinstance(keywords, str):
                keywords = keywords.split(",")
            found.relationships.append(
                RelationshipRecord(
                    normalise_name(source),
                    normalise_name(target),
                    _get(item, "description", "relationship", "why"),
                    [str(k).strip() for k in keywords if str(k).strip()],
                    _weight(item.get("weight", item.get("strength", 1.0))),
                )
            )
        elif name := _get(item, "name", "entity", "entity_name"):
            found.entities.append(
                EntityRecord(
                    normalise_name(name),
                    _get(item, "type", "entity_type").lower() or "unknown",
                    _get(item, "description"),
                )
            )
    return found


def _weight(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]  # anything float() reads; the rest is 1.0
    except (TypeError, ValueError):
        return 1.0


def _from_lines(text: str) -> Extraction:
    found = Extraction()
    for m in _ENTITY_LINE.finditer(text):
        found.entities.append(_entity(m))
    for m in _REL_LINE.finditer(text):
        found.relationships.append(
            RelationshipRecord(
                normalise_name(_plain(m.group("src"))),
                normalise_name(_plain(m.group("tgt"))),
                _plain(m.group("desc")),
            )
        )
    return found


def _from_list(text: str) -> Extraction:
    return Extraction(entities=[_entity(m) for m in _LIST_ITEM.finditer(text)])


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip()


def _entity(m: re.Match[str]) -> EntityRecord:
    kind = _plain(m.group("type") or "").lower() or "unknown"
    return EntityRecord(normalise_name(_plain(m.group("name"))), kind, _plain(m.group("desc")))


_LOOSE_SUMMARY = re.compile(
    r"^\s*(?:[-*+]\s*)?(?:\*\*)?(?:summary\s*)?[(\[]?\s*E(?P<n>\d+)\s*[)\]]?(?:\*\*)?"
    r"\s*(?:—|–|:|-)\s*(?:\*\*)?\s*(?P<text>.+)$",
    re.IGNORECASE | re.MULTILINE,
)


def parse_loose_summaries(text: str, n_excerpts: int) -> dict[int, str]:
    """``Summary E1: ...`` / ``E1 — ...`` / ``**Summary (E2)**: ...`` lines by excerpt number."""
    found: dict[int, str] = {}
    for m in _LOOSE_SUMMARY.finditer(text):
        number, summary = int(m.group("n")), _plain(m.group("text"))
        if 1 <= number <= n_excerpts and summary:
            found.setdefault(number, summary)
    return found


def strip_summaries(text: str) -> str:
    """The text without its summary lines, so they are not read as list-item entities."""
    return _LOOSE_SUMMARY.sub("", text)
