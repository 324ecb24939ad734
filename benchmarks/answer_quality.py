"""Answer quality of every mode on the demo QA set, with the default settings and the local
(extractive) backend: token F1 and recall against the reference answers, gold-span recall over the
items whose gold span is trustworthy, groundedness, citation precision and recall, words per answer.

usage: python -m benchmarks.answer_quality [--data-dir DIR] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from benchmarks._results import default_out, publish
from smolrag_lab import Settings, SmolRag
from smolrag_lab.eval.answers import AnswerScorer
from smolrag_lab.eval.dataset import load_dataset
from smolrag_lab.query.retrieval import MODES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
COLUMNS = (
    ("answer_f1", "answer F1"),
    ("answer_recall", "reference recall"),
    ("span_recall", "gold-span recall"),
    ("semantic_f1", "semantic F1"),
    ("rouge_l", "ROUGE-L"),
    ("groundedness", "groundedness"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("uncited", "uncited"),
    ("no_answer", "no answer"),
    ("answer_words", "words per answer"),
)


def measure(rag: SmolRag, dataset, modes, scorer: AnswerScorer) -> dict[str, dict[str, float]]:
    """Per mode, the mean of each metric over the questions where it is defined."""
    out = {}
    for mode in modes:
        rows = []
        for item in dataset.items:
            result = rag.query(item.query, mode)
            texts = [s.text for s in result.sources]
            rows.append(
                scorer.score(item.query, result.answer, texts, item.reference_answer, item.span)
            )
        out[mode] = {key: mean_of_defined([r.get(key) for r in rows]) for key, _ in COLUMNS}
        out[mode]["questions"] = len(rows)
    return out


def mean_of_defined(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 3) if kept else None


def table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| mode | " + " | ".join(label for _, label in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for mode, values in results.items():
        cells = [
            ""
            if values[k] is None
            else f"{values[k]:.0f}"
            if k == "answer_words"
            else f"{values[k]:.3f}"
            for k, _ in COLUMNS
        ]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--out", default=default_out("answer_quality"))
    args = parser.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="smolrag-answers-"))
    dataset = load_dataset(
        SHARED / "eval" / "smolrag_docs_qa.jsonl", SHARED / "corpus" / "smolrag_docs", args.limit
    )
    settings = Settings.load(data_dir=data_dir, query_cache=False)
    with SmolRag(settings) as rag:
        rag.ingest(dataset.paths, progress=False)
        scorer = AnswerScorer(threshold=settings.groundedness_threshold)
        results = measure(rag, dataset, args.modes, scorer)
    if not args.data_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    print(table(results) + "\n")
    publish({"dataset": dataset.name, "settings": "defaults", "modes": results}, args.out)


if __name__ == "__main__":
    main()
