"""What an ingestion run reports, and the unit it processes: one document, prepared for commit."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..providers.base import Extraction
from .discovery import Document


class StageError(RuntimeError):
    def __init__(self, source: str, stage: str, error: BaseException) -> None:
        super().__init__(f"{source}: {stage} failed: {type(error).__name__}: {error}")
        self.source, self.stage, self.error = source, stage, error


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    excerpts: int = 0
    entities: int = 0
    relationships: int = 0
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    wall_seconds: float = 0.0
    provider_calls: dict[str, int] = field(default_factory=dict)
    # Per document: records kept, dropped_<reason>, reasked, fallback_* (model backends only).
    extraction_quality: dict[str, dict[str, int]] = field(default_factory=dict)
    stage_spans: list[tuple[str, float, float]] = field(
        default_factory=list
    )  # (stage, start, end), epoch s

    def counts(self) -> dict[str, Any]:
        return {
            "documents": {
                k: len(getattr(self, k))
                for k in ("added", "updated", "unchanged", "removed", "skipped", "failed")
            },
            "excerpts": self.excerpts,
            "entities": self.entities,
            "relationships": self.relationships,
            "provider_calls": self.provider_calls,
            "extraction_quality": self.extraction_quality,
            "stage_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "wall_seconds": round(self.wall_seconds, 3),
        }

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stage_seconds"] = dict(self.stage_seconds)
        return data


@dataclass
class Prepared:
    document: Document
    doc_id: str
    content_hash: str
    excerpts: list[str]
    summaries: list[str] = field(default_factory=list)
    vectors: Any = None
    extractions: list[Extraction] = field(default_factory=list)
    repeated_summaries: int = 0  # model summaries shared by different excerpts, replaced


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_doc_id(source: str, digest: str) -> str:
    # Scoped by source as well as content, so two files with the same text stay two documents.
    return "doc-" + hashlib.sha256(f"{source}\x00{digest}".encode()).hexdigest()[:16]
