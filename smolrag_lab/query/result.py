"""What a query returns: the answer, the context it was built from and how it was found."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .context import Source


@dataclass
class QueryResult:
    question: str
    mode: str
    answer: str
    context: str
    sources: list[Source] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)
    keywords: dict[str, list[str]] = field(default_factory=dict)
    token_counts: dict[str, int] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    cached: bool = False
    plan: str = ""  # with query type "auto": why this mode was chosen
    # Citation check of the answer (None without one): only existing sources, one per sentence.
    citations_ok: bool | None = None
    uncited_sentences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QueryResult:
        data = dict(data)
        data["sources"] = [Source(**s) for s in data.get("sources", [])]
        data["relationships"] = [
            {**r, "pair": tuple(r["pair"])} for r in data.get("relationships", [])
        ]
        return cls(**data)
