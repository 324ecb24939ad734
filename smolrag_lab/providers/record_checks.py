"""Validation of extraction records, whatever shape they were parsed from.

Small models write records that parse but are wrong: an entity named ``Title`` or after one of the
prompt's entity types, a name with a trailing full stop, a record copied from the prompt's worked
example, a name the text never mentions, a
relationship whose fields were shifted (a clause as keywords), an endpoint never declared, the same
record twice. Each bad record is dropped (or repaired) with a counted reason, never the document.
"""

from __future__ import annotations

import collections
import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..prompts import RECORD_SEP, TUPLE_SEP
from .base import EntityRecord, Extraction, RelationshipRecord
from .records import _folded

if TYPE_CHECKING:
    import networkx as nx

TEMPLATE_WORDS = frozenset(
    {
        "title",
        "entity",
        "entities",
        "entity_name",
        "entity_type",
        "name",
        "type",
        "description",
        "relationship",
        "relationships",
        "source",
        "target",
        "source_entity",
        "target_entity",
        "keywords",
        "summary",
        "example",
        "output",
        "text",
        "unknown",
        "none",
        "n/a",
        "null",
    }
)
UNDECLARED_TYPE = "undeclared"  # the flag on an entity created for a relationship's endpoint
_TRAILING = ".,;:!?-–—/"  # "app/input_docs/" is the entity "app/input_docs"
MAX_KEYWORD_WORDS = 5  # a longer "keyword" is a clause: the fields were shifted
MAX_TYPE_WORDS = 3
MIN_COPIED_WORDS = 4
_EXAMPLE_FIELD_BREAK = re.compile(re.escape(TUPLE_SEP) + "|" + re.escape(RECORD_SEP) + r"|[()\n\"]")


@functools.lru_cache(maxsize=8)
def _example_fields(example: str) -> frozenset[str]:
    """The worked example's fields, folded: the instructions are the same for every call."""
    return frozenset(_folded(f) for f in _EXAMPLE_FIELD_BREAK.split(example))


def _strip_name(name: str) -> str:
    return name.strip().rstrip(_TRAILING).strip()


class RecordChecker:
    """Checks records against the text they were extracted from, the prompt's entity types and
    its worked example (``example``: a description found there but not in the text was copied).
    """

    def __init__(
        self, source_text: str, entity_types: Iterable[str] = (), example: str = ""
    ) -> None:
        self.haystack = _folded(source_text)
        self.template = TEMPLATE_WORDS | {_folded(t) for t in entity_types}
        self.example = _example_fields(example)
        self.reasons: collections.Counter[str] = collections.Counter()

    def copied(self, text: str) -> bool:
        """True for text found in the worked example and not in the source: an echo (a phrase of
        fewer than :data:`MIN_COPIED_WORDS` words may be a coincidence).
        """
        key = _folded(text)
        return (
            len(key.split()) >= MIN_COPIED_WORDS
            and key in self.example
            and key not in self.haystack
        )

    def _name_problem(self, name: str) -> str | None:
        key = _folded(name)
        if not key:
            return "empty_name"
        if key in self.template or key.replace(" ", "_") in self.template:
            return "template_word"
        if key not in self.haystack:
            return "not_in_text"
        return None

    def check(self, extraction: Extraction) -> Extraction:
        kept = Extraction(content_keywords=list(dict.fromkeys(extraction.content_keywords)))
        seen: set[tuple[str, ...]] = set()
        for e in extraction.entities:
            name = self._repaired(e.name)
            problem = self._name_problem(name) or _type_problem(e.type)
            if problem is None and self.copied(e.description):
                problem = "copied_example"
            if problem is None and (name.casefold(), e.type, e.description) in seen:
                problem = "duplicate"
            if problem:
                self.reasons[problem] += 1
                continue
            seen.add((name.casefold(), e.type, e.description))
            kept.entities.append(EntityRecord(name, e.type or "unknown", e.description))
        declared = {_folded(e.name) for e in kept.entities}
        for r in extraction.relationships:
            rel = self._relationship(r, seen)
            if rel is not None:
                kept.relationships.append(rel)
                for end in (rel.source, rel.target):
                    if _folded(end) not in declared:
                        declared.add(_folded(end))
                        self.reasons["endpoint_created"] += 1
                        kept.entities.append(
                            EntityRecord(end, UNDECLARED_TYPE, f"Named in: {rel.description}")
                        )
        self.reasons["kept"] += len(kept.entities) + len(kept.relationships)
        return kept

    def _repaired(self, name: str) -> str:
        stripped = _strip_name(name)
        if stripped != name.strip():
            self.reasons["repaired_punctuation"] += 1
        return stripped

    def _relationship(self, r: RelationshipRecord, seen: set) -> RelationshipRecord | None:
        source, target = self._repaired(r.source), self._repaired(r.target)
        problem = self._name_problem(source) or self._name_problem(target)
        if problem is None and _folded(source) == _folded(target):
            problem = "self_loop"
        if problem is None and (
            not r.description.strip() or any(len(k.split()) > MAX_KEYWORD_WORDS for k in r.keywords)
        ):
            problem = "shifted_fields"
        if problem is None and self.copied(r.description):
            problem = "copied_example"
        if problem is None and not 0 < r.weight <= 10:
            problem = "weight_out_of_range"
        key = ("rel", _folded(source), _folded(target), r.description)
        if problem is None and key in seen:
            problem = "duplicate"
        if problem:
            self.reasons[f"relationship_{problem}"] += 1
            return None
        seen.add(key)
        return RelationshipRecord(source, target, r.description, list(r.keywords), r.weight)

    @property
    def dropped(self) -> dict[str, int]:
        """Dropped records by reason (repairs and created endpoints are not drops)."""
        skip = {"kept", "repaired_punctuation", "endpoint_created"}
        return {k: v for k, v in self.reasons.items() if k not in skip}


def _type_problem(entity_type: str) -> str | None:
    words = re.findall(r"\w+", entity_type)
    return "shifted_fields" if len(words) > MAX_TYPE_WORDS else None


def stored_graph_problems(graph: nx.Graph, text: str) -> dict[str, int]:
    """What the record checks would drop from a stored graph (as ``SmolRag.graph()`` returns it)
    read against its source ``text``: empty when ingestion let nothing bad through.
    """
    names = {n: graph.nodes[n].get("name", n) for n in graph.nodes}
    entities = [EntityRecord(name, "concept", "stored") for name in names.values()]
    relationships = [
        RelationshipRecord(names[a], names[b], "stored", _stored_keywords(attrs))
        for a, b, attrs in graph.edges(data=True)
    ]
    checker = RecordChecker(text)
    checker.check(Extraction(entities=entities, relationships=relationships))
    return checker.dropped


def _stored_keywords(attrs: dict[str, Any]) -> list[str]:
    return [k for values in (attrs.get("keywords") or {}).values() for k in values]
