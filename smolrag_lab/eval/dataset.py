"""Evaluation sets in the shared format: a corpus folder and a JSONL file of graded queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SPAN_MIN_F1 = 0.8  # gold spans matched less well than this are not used for span metrics


@dataclass(frozen=True)
class EvalItem:
    id: str
    query: str
    relevant: dict[str, int]
    gold_span: str | None = None
    match_f1: float | None = None

    @property
    def span(self) -> str | None:
        """The gold passage when it is trustworthy enough to test for."""
        if self.gold_span and (self.match_f1 is None or self.match_f1 >= SPAN_MIN_F1):
            return self.gold_span
        return None


@dataclass(frozen=True)
class Dataset:
    name: str
    corpus: Path
    items: list[EvalItem]

    @property
    def has_spans(self) -> bool:
        return any(i.span for i in self.items)


def load_dataset(queries: str | Path, corpus: str | Path, limit: int | None = None) -> Dataset:
    """Read a JSONL file of ``{id, query, relevant: {document: grade}}``; a bad line names its number."""
    queries, corpus = Path(queries), Path(corpus)
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {corpus}")
    items = []
    for number, line in enumerate(queries.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            relevant = {str(doc): int(grade) for doc, grade in row["relevant"].items()}
            items.append(EvalItem(str(row["id"]), str(row["query"]), relevant, row.get("gold_span"),
                                  row.get("match_f1")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{queries}:{number}: not a valid evaluation item ({exc})") from exc
    items = [i for i in items if i.relevant]
    return Dataset(queries.stem, corpus, items[:limit] if limit else items)
