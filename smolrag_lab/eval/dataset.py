"""Evaluation sets in the shared format: a corpus folder and a JSONL file of graded queries."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

SPAN_MIN_F1 = 0.8  # gold spans matched less well than this are not used for span metrics


@dataclass(frozen=True)
class EvalItem:
    id: str
    query: str
    relevant: dict[str, int]
    gold_span: str | None = None
    match_f1: float | None = None
    reference_answer: str | None = None  # a written answer, for the answer metrics

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
    documents: tuple[Path, ...] | None = (
        None  # a subset of the corpus files; None = the whole folder
    )

    @property
    def has_spans(self) -> bool:
        return any(i.span for i in self.items)

    @property
    def has_references(self) -> bool:
        return any(i.reference_answer for i in self.items)

    @property
    def paths(self) -> list[Path]:
        """What to ingest: the chosen files, or the corpus folder."""
        return list(self.documents) if self.documents is not None else [self.corpus]

    def corpus_files(self) -> list[Path]:
        return sorted(
            p for p in self.corpus.iterdir() if p.is_file() and not p.name.startswith(".")
        )

    def restricted_to(self, names: list[str], limit: int | None = None) -> Dataset:
        """Only the documents ``names`` and the questions answered entirely inside them: a small
        corpus that still exercises every code path (quick runs, CI).
        """
        keep = set(names)
        files = tuple(p for p in self.corpus_files() if p.name in keep)
        items = [i for i in self.items if set(i.relevant) <= keep]
        return replace(
            self,
            name=f"{self.name}[{len(files)} docs]",
            items=items[:limit] if limit else items,
            documents=files,
        )

    def sample(self, queries: int, extra_documents: int = 0, seed: int = 0) -> Dataset:
        """``queries`` random questions, the documents relevant to them and ``extra_documents``
        random others as distractors; the rest of the corpus is left out.
        """
        rng = random.Random(seed)
        items = rng.sample(self.items, min(queries, len(self.items)))
        files = self.corpus_files()
        relevant = {name for item in items for name in item.relevant}
        others = [p for p in files if p.name not in relevant]
        chosen = relevant | {p.name for p in rng.sample(others, min(extra_documents, len(others)))}
        return replace(
            self,
            name=f"{self.name}[{len(items)} queries]",
            items=items,
            documents=tuple(p for p in files if p.name in chosen),
        )


def load_dataset(queries: str | Path, corpus: str | Path, limit: int | None = None) -> Dataset:
    """Read a JSONL file of ``{id, query, relevant: {document: grade}}``; a bad line names its
    number.
    """
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
            items.append(
                EvalItem(
                    str(row["id"]),
                    str(row["query"]),
                    relevant,
                    row.get("gold_span"),
                    row.get("match_f1"),
                    row.get("reference_answer"),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{queries}:{number}: not a valid evaluation item ({exc})") from exc
    items = [i for i in items if i.relevant]
    return Dataset(_dataset_name(queries), corpus, items[:limit] if limit else items)


def _dataset_name(queries: Path) -> str:
    """The file's stem, or its folder's name when the stem is generic
    (``cranfield/queries.jsonl``).
    """
    generic = {"queries", "questions", "qa", "test", "dev", "eval", "data"}
    return (
        queries.parent.name
        if queries.stem.lower() in generic and queries.parent.name
        else queries.stem
    )
